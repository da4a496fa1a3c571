"""Who is asking: sessions, sign-in (password or one-time link), CSRF, and the access rule.

Secure by default, for our routes and for any blueprint another package adds:
- every request to an endpoint not declared public needs a signed-in person (else: a
  redirect to the sign-in page);
- every POST/PUT/PATCH/DELETE needs the session's CSRF token (form field `csrf_token` or
  header `X-CSRF-Token`), unless its endpoint is declared CSRF-exempt (an endpoint that
  authenticates its caller another way, such as a signed Slack request);
- a city's data needs `auth.require_city(slug)`, which answers 404 alike for a city that is
  not the person's and one that does not exist (no one learns which cities exist).

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure when served over HTTPS)
holding the email, the person's session version (a new password or a revocation ends every
older session), when it was issued (sessions end after `SESSION_HOURS` whatever the cookie
says) and the CSRF token. The person is read afresh from `People` on every request, so a
removed person or a changed list of cities takes effect at once.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, abort, current_app, g, redirect, render_template, request, session

from pulse.people import MIN_PASSWORD_LENGTH, People, PeopleError, User

SESSION_HOURS = 12
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
EXTENSION = "pulse.auth"


@dataclass
class Auth:
    """The app's access rules and helpers; `current_app.extensions["pulse.auth"]`."""

    people: People
    public_endpoints: set[str] = field(default_factory=set)
    csrf_exempt_endpoints: set[str] = field(default_factory=set)
    clock: callable = time.time

    # --- for route handlers (ours and other packages') --------------------------------------

    @staticmethod
    def user() -> User | None:
        """The signed-in person of this request (None on public endpoints when signed out)."""
        return g.get("user")

    def require_city(self, slug: str) -> User:
        """The signed-in person, when they may see `slug`; otherwise the request ends in 404."""
        user = self.user()
        if user is None:
            abort(401)
        if not user.can_see(slug):
            abort(404)
        return user

    def require_admin(self) -> User:
        user = self.user()
        if user is None or not user.is_admin:
            abort(404)
        return user

    @staticmethod
    def csrf_token() -> str:
        """This session's CSRF token (created on first use); forms send it as `csrf_token`."""
        token = session.get("csrf")
        if not token:
            token = secrets.token_urlsafe(32)
            session["csrf"] = token
        return token

    def sign_in(self, user: User) -> None:
        """Start a new session for `user` (a new session and CSRF token: nothing carries over)."""
        session.clear()
        session.permanent = True
        session["email"] = user.email
        session["v"] = user.session_version
        session["t"] = int(self.clock())
        session["csrf"] = secrets.token_urlsafe(32)
        g.user = user

    @staticmethod
    def sign_out() -> None:
        session.clear()
        g.user = None

    # --- wiring ---------------------------------------------------------------------------------

    def load_user(self) -> None:
        g.user = None
        email, version, issued = session.get("email"), session.get("v"), session.get("t")
        if not email:
            return
        if not isinstance(issued, int) or self.clock() - issued > SESSION_HOURS * 3600:
            session.clear()
            return
        user = self.people.session_user(email, version)
        if user is None:
            session.clear()
            return
        g.user = user

    def check_csrf(self) -> None:
        if request.method not in UNSAFE_METHODS or request.endpoint in self.csrf_exempt_endpoints:
            return
        # Defence in depth: a browser says where a form comes from; another site's is refused.
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            abort(403, description="This form was sent from another site.")
        sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
        expected = session.get("csrf") or ""
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(403, description="This form has expired or did not come from this site. Reload the page and try again.")

    def gate(self):
        """before_request: who is asking, CSRF, and sign-in for every non-public endpoint."""
        self.load_user()
        if request.endpoint is None:
            return None  # no such route: let the 404 happen
        self.check_csrf()
        if request.endpoint in self.public_endpoints or g.user is not None:
            return None
        target = request.full_path if request.query_string else request.path
        return redirect("/sign-in?" + urlencode({"next": target}))


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never `//host` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def client_address() -> str:
    return request.remote_addr or "unknown"


def auth() -> Auth:
    return current_app.extensions[EXTENSION]


blueprint = Blueprint("auth", __name__)
PUBLIC = {"auth.sign_in_form", "auth.sign_in", "auth.link_form", "auth.link_redeem"}


@blueprint.get("/sign-in")
def sign_in_form():
    if g.user is not None:
        return redirect(safe_next(request.args.get("next")))
    return render_template("sign_in.html", next=safe_next(request.args.get("next")), email="", error=None)


@blueprint.post("/sign-in")
def sign_in():
    rules = auth()
    email = (request.form.get("email") or "").strip().lower()
    password = request.form.get("password") or ""
    target = safe_next(request.form.get("next"))
    keys = (f"email:{email}", f"ip:{client_address()}")
    wait = rules.people.sign_in_wait(*keys)
    if wait > 0:
        message = (f"Too many failed sign-ins. Try again in {max(1, round(wait / 60))} minutes, "
                   "or ask an admin for a sign-in link.")
        return render_template("sign_in.html", next=target, email=email, error=message), 429
    user = rules.people.verify_password(email, password)
    if user is None:
        rules.people.record_failure(*keys)
        return render_template("sign_in.html", next=target, email=email,
                               error="That email and password do not match."), 401
    rules.people.record_success(keys[0])
    rules.sign_in(user)
    return redirect(target)


@blueprint.get("/sign-in/link/<token>")
def link_form(token: str):
    rules = auth()
    if rules.people.sign_in_wait(f"ip:{client_address()}") > 0:
        abort(429)
    person = rules.people.peek(token)
    if person is None:
        rules.people.record_failure(f"ip:{client_address()}")
    # A GET only shows the button: mail scanners that open links do not use them up.
    return render_template("link.html", person=person, action=request.path), (200 if person else 410)


@blueprint.post("/sign-in/link/<token>")
def link_redeem(token: str):
    rules = auth()
    if rules.people.sign_in_wait(f"ip:{client_address()}") > 0:
        abort(429)
    user = rules.people.redeem(token)
    if user is None:
        rules.people.record_failure(f"ip:{client_address()}")
        return render_template("link.html", person=None, action=request.path), 410
    rules.sign_in(user)
    return redirect("/")


@blueprint.post("/sign-out")
def sign_out():
    auth().sign_out()
    return redirect("/sign-in")


@blueprint.get("/account")
def account():
    return render_template("account.html", error=None, done=request.args.get("done") == "1",
                           min_length=MIN_PASSWORD_LENGTH)


@blueprint.post("/account/password")
def account_password():
    rules = auth()
    user = g.user
    current, password, repeat = (request.form.get(name) or "" for name in ("current", "password", "repeat"))

    def again(message: str, status: int = 400):
        return render_template("account.html", error=message, done=False, min_length=MIN_PASSWORD_LENGTH), status

    if user.has_password:
        keys = (f"email:{user.email}", f"ip:{client_address()}")
        if rules.people.sign_in_wait(*keys) > 0:
            return again("Too many wrong passwords; try again later.", 429)
        if rules.people.verify_password(user.email, current) is None:
            rules.people.record_failure(*keys)
            return again("Your current password is not right.", 401)
    if len(password) < MIN_PASSWORD_LENGTH:
        return again(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if password != repeat:
        return again("The two new passwords differ.")
    try:
        updated = rules.people.set_password(user.email, password)
    except PeopleError as error:
        return again(str(error))
    rules.sign_in(updated)  # this session goes on; the person's other sessions end
    return redirect("/account?done=1")


def install(app: Flask, people: People, *, public: set[str], csrf_exempt: set[str], clock=time.time) -> Auth:
    rules = Auth(people, public_endpoints=set(public) | PUBLIC, csrf_exempt_endpoints=set(csrf_exempt), clock=clock)
    app.extensions[EXTENSION] = rules
    app.before_request(rules.gate)
    app.register_blueprint(blueprint)

    @app.context_processor
    def _auth_context():
        return {"user": g.get("user"), "csrf_token": rules.csrf_token()}

    return rules

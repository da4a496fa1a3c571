"""Who is asking: sessions, sign-in (password or one-time link), CSRF, and the access rule.

Secure by default, for our routes and for any blueprint another package adds:
- every request to an endpoint not declared public needs a signed-in person (else: a
  redirect to the sign-in page);
- every POST/PUT/PATCH/DELETE needs the session's CSRF token (form field `csrf_token` or
  header `X-CSRF-Token`), unless its endpoint is declared CSRF-exempt (an endpoint that
  authenticates its caller another way, such as a signed Slack request);
- a city's data needs `auth.require_city(slug)`, which answers 404 alike for a city that is
  not the person's and one that does not exist (no one learns which cities exist).

Sessions are server-side: the cookie (Flask's signed cookie: HttpOnly, SameSite=Lax, Secure
when served over HTTPS) holds a random session id and the CSRF token, nothing about the person.
The session itself is a row of `People` (only the id's SHA-256 is stored), so signing out
deletes it and every copy of the cookie stops working; it also ends after `SESSION_IDLE` without
a request, `SESSION_LIFETIME` after sign-in, and when its person changes password, signs out
everywhere or is removed. The person is read afresh from `People` on every request, so a
changed list of cities takes effect at once.

Wrong passwords are throttled by `People.begin_sign_in` (per email and address, with growing
delays), which counts an attempt in the same transaction that allows it. A valid sign-in link
is never refused by a throttle. What happens is written to the security log (`security_log`).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, abort, current_app, g, redirect, render_template, request, session

from pulse.people import MIN_PASSWORD_LENGTH, People, PeopleError, User
from pulse.people.store import SESSION_IDLE, SESSION_LIFETIME
from pulse.web import security_log

SESSION_HOURS = SESSION_LIFETIME.total_seconds() / 3600
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
        """Start a new session for `user`: a new session id and CSRF token, nothing carried over
        (a session id planted before sign-in is worthless after it)."""
        self.people.end_session(session.get("sid"))
        session.clear()
        session.permanent = True
        session["sid"] = self.people.start_session(user.email)
        session["csrf"] = secrets.token_urlsafe(32)
        g.user = user

    def sign_out(self) -> None:
        """End this session: its row goes, so a copy of the cookie is worth nothing either."""
        self.people.end_session(session.get("sid"))
        session.clear()
        g.user = None

    # --- wiring ---------------------------------------------------------------------------------

    def load_user(self) -> None:
        g.user = None
        session_id = session.get("sid")
        if not session_id:
            return
        user = self.people.session_user(session_id)
        if user is None:
            session.clear()  # ended, idle, too old, or its person removed
            return
        g.user = user

    def check_csrf(self) -> None:
        if request.method not in UNSAFE_METHODS or request.endpoint in self.csrf_exempt_endpoints:
            return
        # Defence in depth: a browser says where a form comes from; another site's is refused.
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            self._refuse_csrf("origin")
            abort(403, description="This form was sent from another site.")
        sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
        expected = session.get("csrf") or ""
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            self._refuse_csrf("token")
            abort(403, description="This form has expired or did not come from this site. Reload the page and try again.")

    @staticmethod
    def _refuse_csrf(reason: str) -> None:
        user = g.get("user")
        security_log.event("csrf_refused", reason=reason, endpoint=request.endpoint, address=client_address(),
                           email=user.email if user else None)

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

    def log_action(self, response):
        """after_request: every state-changing request outside sign-in itself (approvals,
        rejections, edits, Slack clicks; refused ones too), with who made it and how it ended."""
        if request.method in UNSAFE_METHODS and request.endpoint and request.blueprint != "auth":
            user = g.get("user")
            post_id = (request.view_args or {}).get("post_id")
            security_log.event("action", endpoint=request.endpoint, post_id=post_id, status=response.status_code,
                               email=user.email if user else None, address=client_address())
        return response


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never `//host` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in target):
        return "/"  # no CR/LF or other control characters into a Location header
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def client_address() -> str:
    """The visitor's address: the connection's, or the one a `--trusted-proxy` vouched for
    (waitress puts it in REMOTE_ADDR; anyone else's X-Forwarded-For is dropped)."""
    return request.remote_addr or "unknown"


def auth() -> Auth:
    return current_app.extensions[EXTENSION]


def _duration(seconds: float) -> str:
    if seconds < 60:
        whole = max(1, round(seconds))
        return f"{whole} second{'s' if whole != 1 else ''}"
    whole = max(1, round(seconds / 60))
    return f"{whole} minute{'s' if whole != 1 else ''}"


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
    address = client_address()
    attempt = rules.people.begin_sign_in(email, address)
    if not attempt.allowed:
        security_log.event("sign_in_throttled", email=email, address=address, held_by=attempt.held_by,
                           wait_seconds=attempt.wait)
        message = (f"Too many failed sign-ins. Try again in {_duration(attempt.wait)}, "
                   "or ask an admin for a sign-in link.")
        return render_template("sign_in.html", next=target, email=email, error=message), 429
    user = rules.people.verify_password(email, password)
    if user is None:
        security_log.event("sign_in_failure", email=email, address=address, method="password")
        for kind in attempt.locks:
            security_log.event("lockout", email=email, address=address, held_by=kind)
        return render_template("sign_in.html", next=target, email=email,
                               error="That email and password do not match."), 401
    rules.people.sign_in_succeeded(user.email, address)
    rules.sign_in(user)
    security_log.event("sign_in_success", email=user.email, address=address, method="password")
    return redirect(target)


@blueprint.get("/sign-in/link/<token>")
def link_form(token: str):
    rules = auth()
    person = rules.people.peek(token)
    if person is None:
        return _refused_link()
    # A GET only shows the button: mail scanners that open links do not use them up.
    return render_template("link.html", person=person, action=request.path)


@blueprint.post("/sign-in/link/<token>")
def link_redeem(token: str):
    rules = auth()
    # The token is checked before any throttle: a valid link an admin issued always works, even
    # from an address that others' failures hold back (a token cannot be guessed: 256 bits).
    user = rules.people.redeem(token)
    if user is None:
        return _refused_link()
    rules.sign_in(user)
    security_log.event("link_used", email=user.email, address=client_address(), method="link")
    return redirect("/")


def _refused_link():
    address = client_address()
    wait = auth().people.address_refused(address)
    security_log.event("link_refused", address=address, wait_seconds=wait or None)
    if wait > 0:
        abort(429)
    return render_template("link.html", person=None, action=request.path), 410


@blueprint.post("/sign-out")
def sign_out():
    user = g.user
    auth().sign_out()
    security_log.event("sign_out", email=user.email if user else None, address=client_address())
    return redirect("/sign-in")


@blueprint.post("/account/sign-out-everywhere")
def sign_out_everywhere():
    rules = auth()
    user = g.user
    ended = rules.people.end_sessions(user.email)
    rules.sign_out()
    security_log.event("sign_out_everywhere", email=user.email, address=client_address(), sessions_ended=ended)
    return redirect("/sign-in")


def _account_page(error: str | None = None, done: bool = False, status: int = 200):
    user = g.user
    return render_template("account.html", error=error, done=done, min_length=MIN_PASSWORD_LENGTH,
                           sessions=auth().people.session_count(user.email),
                           idle_minutes=round(SESSION_IDLE.total_seconds() / 60),
                           lifetime_hours=round(SESSION_LIFETIME.total_seconds() / 3600)), status


@blueprint.get("/account")
def account():
    return _account_page(done=request.args.get("done") == "1")


@blueprint.post("/account/password")
def account_password():
    rules = auth()
    user = g.user
    address = client_address()
    current, password, repeat = (request.form.get(name) or "" for name in ("current", "password", "repeat"))

    if user.has_password:
        attempt = rules.people.begin_sign_in(user.email, address)
        if not attempt.allowed:
            security_log.event("sign_in_throttled", email=user.email, address=address, held_by=attempt.held_by,
                               wait_seconds=attempt.wait, method="password change")
            return _account_page("Too many wrong passwords; try again later.", status=429)
        if rules.people.verify_password(user.email, current) is None:
            security_log.event("sign_in_failure", email=user.email, address=address, method="password change")
            for kind in attempt.locks:
                security_log.event("lockout", email=user.email, address=address, held_by=kind)
            return _account_page("Your current password is not right.", status=401)
        rules.people.sign_in_succeeded(user.email, address)
    if len(password) < MIN_PASSWORD_LENGTH:
        return _account_page(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.", status=400)
    if password != repeat:
        return _account_page("The two new passwords differ.", status=400)
    try:
        updated = rules.people.set_password(user.email, password)
    except PeopleError as error:
        return _account_page(str(error), status=400)
    rules.sign_in(updated)  # every session of theirs ended with the new password; this one goes on anew
    security_log.event("password_changed", email=user.email, address=address)
    return redirect("/account?done=1")


def install(app: Flask, people: People, *, public: set[str], csrf_exempt: set[str]) -> Auth:
    rules = Auth(people, public_endpoints=set(public) | PUBLIC, csrf_exempt_endpoints=set(csrf_exempt))
    app.extensions[EXTENSION] = rules
    app.before_request(rules.gate)
    app.after_request(rules.log_action)
    app.register_blueprint(blueprint)

    @app.context_processor
    def _auth_context():
        return {"user": g.get("user"), "csrf_token": rules.csrf_token()}

    return rules

"""The organiser's desk in `pulse serve`: the posts queue, its calendar, and the Slack
interactions endpoint; a `WebExtension` of the web shell (registered by `posters.plugin`).

The shell's gate applies: sign-in required (except the Slack endpoint, which proves itself by
its signature), CSRF on every form and on the live counter (except the Slack endpoint, which
Slack cannot send a token to), and a person sees and acts on the posts of their own cities only
(others answer 404, as the dashboards do). The top bar's "Posts" link shows how many drafts of
the person's cities await approval.

The queue is one card per meetup holding its channels' posts, each with a preview of what its
channel will show (`posters.previews`), its state, when it goes out (in the city's time) and
only the actions its state allows. Edits are plain text: the channel's escaping is Pulse's.
Every form says where to come back to (`back`): a path of this queue only, checked (400)
before anything is done.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from importlib import resources
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, flash, g, get_flashed_messages, jsonify, redirect, \
    render_template, request
from markupsafe import Markup

from pulse.core.config import Config
from pulse.core.instants import now_utc, parse_iso
from pulse.web.auth import auth
from pulse.web.extension import NavLink, WebExtension

from posters import approvals, previews
from posters.channels import kind_of, kinds
from posters.drafts import DraftError
from posters.publisher import channel_configs, known_where
from posters.slack_approvals import handle_interaction
from posters.store import Post, PostError, PostStore

SLACK_ENDPOINT = "posts.slack_interactions"
CONFIG_KEY = "posters.config"
VIEWS = {
    "todo": ("To do", ("pending_approval", "failed", "needs_attention")),
    "scheduled": ("Scheduled", ("approved", "scheduled", "publishing")),
    "published": ("Published", ("published",)),
    "closed": ("Rejected or withdrawn", ("rejected", "withdrawn")),
    "all": ("All", None),
}
STATE_LABELS = {"pending_approval": "Awaiting approval", "approved": "Approved", "scheduled": "Scheduled",
                "publishing": "Publishing", "published": "Published", "failed": "Failed", "rejected": "Rejected",
                "withdrawn": "Withdrawn", "needs_attention": "Needs attention"}
KIND_LABELS = {"announce": "Announcement", "update": "Update", "cancel": "Cancellation"}
EDITABLE = ("pending_approval", "approved", "scheduled", "failed")
_BACK = re.compile(r"/posts(/calendar|/\d{1,12})?(\?[A-Za-z0-9_.~%=&+-]{0,400})?(#[A-Za-z0-9_-]{1,60})?")
MAX_REASON = 500


def extension() -> WebExtension:
    return WebExtension(name="posts", blueprint=make_blueprint, public_endpoints=frozenset({SLACK_ENDPOINT}),
                        csrf_exempt_endpoints=frozenset({SLACK_ENDPOINT}),
                        nav_links=(NavLink("Posts", "/posts", badge=_pending_badge, visible=_may_review),),
                        assets={"posts.css": lambda: _static("posts.css"), "posts.js": lambda: _static("posts.js")},
                        install=_install)


def _static(name: str) -> bytes:
    return (resources.files("posters") / "static" / name).read_bytes()


def _install(app, config: Config, options: dict) -> None:
    app.extensions[CONFIG_KEY] = config


def _may_review(user) -> bool:
    """Organisers, leads (of some city) and admins: everyone who may act on some city's posts."""
    return user.is_admin or bool(user.cities)


def _pending_badge(user) -> int | None:
    """Drafts of the person's cities awaiting approval; None when there are none (or no posts file:
    a dashboards page never creates one, and never fails because of one)."""
    from pulse.core.warehouse import data_folder

    from posters.store import FILE_NAME

    config = current_app.extensions.get(CONFIG_KEY)
    if config is None or not (data_folder(config) / FILE_NAME).exists():
        return None
    try:
        with PostStore(config) as store:
            count = store.count_waiting_approval(None if user.is_admin else tuple(user.cities))
    except Exception:  # noqa: BLE001 - a count in the top bar is never worth a failed page
        current_app.logger.exception("posts: could not count the drafts awaiting approval")
        return None
    return count or None


# -- what a page shows -------------------------------------------------------------------

@dataclass
class PostView:
    post: Post
    label: str
    channel_label: str
    where: str
    state_label: str
    when: str
    preview: Markup
    link_card: Markup
    count: tuple[int, int] | None
    edit_text: str
    hash: str
    history: list = field(default_factory=list)
    error: str = ""
    reason_error: str = ""
    editing: bool = False
    counter: dict | None = None
    """What the edit box's counter says at first (then the live counter takes over)."""

    @property
    def actions(self) -> set[str]:
        state = self.post.state
        return {"pending_approval": {"approve", "edit", "reject"}, "approved": {"edit", "reject"},
                "scheduled": {"edit", "reject"}, "failed": {"retry", "edit", "reject"},
                "needs_attention": {"resolve"}}.get(state, set())


@dataclass
class Card:
    city: str
    city_name: str
    event_id: str
    title: str
    starts: str
    venue: str
    url: str | None
    posts: list[PostView]
    starts_at: str

    @property
    def anchor(self) -> str:
        return "meetup-" + re.sub(r"[^A-Za-z0-9_-]", "-", f"{self.city}-{self.event_id}")[:60]

    @property
    def pending(self) -> list[PostView]:
        return [p for p in self.posts if p.post.state == "pending_approval"]

    @property
    def path(self) -> str:
        """The card's own page (named by its first post: a meetup id is the platform's text)."""
        return f"/posts/{self.posts[0].post.id}"


def local(stamp: str | None, timezone: str) -> str:
    """An instant as the city reads it: "Fri 4 Dec, 18:30 AEDT"."""
    if not stamp:
        return ""
    moment = parse_iso(stamp).astimezone(_zone(timezone))
    return f"{moment:%a} {moment.day} {moment:%b}, {moment:%H:%M} {moment.tzname()}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _when(post: Post, now: dt.datetime, published_at: str | None) -> str:
    tz = post.snapshot.get("timezone", "UTC")
    due = parse_iso(post.due_at)
    later = f"after {local(post.due_at, tz)}" if due > now else "with the next publish run"
    if post.state == "pending_approval":
        return f"Goes out once approved, {later}"
    if post.state in ("approved", "scheduled"):
        if post.not_before and parse_iso(post.not_before) > now:
            why = "throttled by the channel" if post.last_error and "throttled" in post.last_error else "retrying"
            return f"Goes out after {local(post.not_before, tz)} ({why})"
        return f"Goes out {later}"
    if post.state == "publishing":
        return "Being published now"
    if post.state == "published":
        return f"Published {local(published_at or post.updated_at, tz)}"
    if post.state == "failed":
        return "Not sent: it failed"
    if post.state == "needs_attention":
        return "It may or may not be out"
    return ""


def post_view(store: PostStore, config: Config, post: Post, now: dt.datetime, published: dict[int, str],
              history=None) -> PostView:
    kind = kind_of(post.channel)
    channel_config = channel_configs(config).get((post.city, post.channel))
    where = known_where(store, channel_config) if channel_config is not None else f"{kind.label} (not configured)"
    preview = kind.preview_html(post.text)
    card = previews.link_card(post.content["link"]) if post.content.get("link") else Markup("")
    view = PostView(post=post, label=KIND_LABELS.get(post.kind, post.kind), channel_label=kind.label, where=where,
                    state_label=STATE_LABELS.get(post.state, post.state), when=_when(post, now, published.get(post.id)),
                    preview=preview, link_card=card,
                    count=kind.count(post.text) if post.state in EDITABLE and kind.measure(post.text) else None,
                    edit_text=approvals.edit_text(post), hash=approvals.text_hash(post), history=history or [])
    if post.state in EDITABLE:
        used, limit = kind.count(post.text)
        view.counter = {"ok": used <= limit, "count": used, "limit": limit, "text": f"{used}/{limit}"}
    return view


def build_cards(store: PostStore, config: Config, posts: list[Post], now: dt.datetime) -> list[Card]:
    published = store.published_times()
    histories = store.histories([p.id for p in posts])
    by_meetup: dict[tuple[str, str], list[Post]] = {}
    for post in posts:
        by_meetup.setdefault((post.city, post.event_id), []).append(post)
    cards = []
    order = {"announce": 0, "update": 1, "cancel": 2}
    channel_order = {name: n for n, name in enumerate(kinds())}
    for (city, event_id), group in by_meetup.items():
        group.sort(key=lambda p: (order.get(p.kind, 9), channel_order.get(p.channel, 9), p.id))
        latest = max(group, key=lambda p: p.updated_at).snapshot
        tz = latest.get("timezone", "UTC")
        url = latest.get("url") or None
        cards.append(Card(city=city, city_name=latest.get("city_name") or city, event_id=event_id,
                          title=latest.get("title") or event_id, starts=local(latest.get("starts_at"), tz),
                          venue=latest.get("venue") or "", url=url if url and previews.safe_href(url) else None,
                          starts_at=group[0].starts_at,
                          posts=[post_view(store, config, p, now, published, histories.get(p.id)) for p in group]))
    cards.sort(key=lambda c: (c.starts_at, c.city, c.event_id))
    return cards


def history_line(entry, timezone: str) -> str:
    change = f" ({STATE_LABELS.get(entry.old_state, entry.old_state or '-')} → {STATE_LABELS.get(entry.new_state, entry.new_state)})" \
        if entry.old_state != entry.new_state else ""
    detail = f": {entry.detail}" if entry.detail else ""
    return f"{local(entry.at, timezone)} · {entry.actor}: {entry.action}{change}{detail}"


# -- the blueprint ------------------------------------------------------------------------

def make_blueprint(config: Config) -> Blueprint:
    bp = Blueprint("posts", __name__, template_folder="templates")

    def post_for_user(store: PostStore, post_id: int) -> Post:
        try:
            post = store.get(post_id)
        except PostError:
            abort(404)
        auth().require_city(post.city)  # 404 for a city that is not theirs
        return post

    def back_target() -> str:
        """Where a form comes back to: one of the queue's own paths, or a 400 before anything is done."""
        back = request.form.get("back", "/posts")
        if len(back) > 700 or not _BACK.fullmatch(back):
            abort(400, description="back: expected a path of the posts queue")
        return back

    def filters(args) -> dict:
        view = args.get("view", "todo")
        if view not in VIEWS:
            abort(400, description=f"view: one of {', '.join(VIEWS)}")
        channel = args.get("channel", "")
        if channel and channel not in kinds():
            abort(400, description=f"channel: one of {', '.join(kinds())}")
        city = args.get("city", "")
        if city and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", city):
            abort(400, description="city: a city's slug")
        return {"view": view, "city": city, "channel": channel}

    def queue_page(chosen: dict, *, errors=None, status: int = 200):
        user = auth().user()
        if user is None:
            abort(401)
        states = VIEWS[chosen["view"]][1]
        with PostStore(config) as store:
            everything = [p for p in store.find() if user.can_see(p.city)]
            cities = sorted({p.city for p in everything} | {c.slug for c in config.cities if user.can_see(c.slug)})
            shown = [p for p in everything if (states is None or p.state in states)
                     and (not chosen["city"] or p.city == chosen["city"])
                     and (not chosen["channel"] or p.channel == chosen["channel"])]
            cards = build_cards(store, config, shown, now_utc())
        _apply_errors(cards, errors or {})
        counts = {name: sum(1 for p in everything if states_ is None or p.state in states_)
                  for name, (_, states_) in VIEWS.items()}
        query = urlencode({k: v for k, v in chosen.items() if v and not (k == "view" and v == "todo")})
        return _queue_template(cards, chosen, counts=counts, cities=cities,
                               back="/posts" + (f"?{query}" if query else "")), status

    @bp.get("/posts")
    def queue():
        return queue_page(filters(request.args))

    @bp.get("/posts/<int:post_id>")
    def meetup(post_id: int):
        """One meetup's card, with every post of it whatever its state (the calendar's entries open it)."""
        with PostStore(config) as store:
            post = post_for_user(store, post_id)
            cards = build_cards(store, config, store.find(city=post.city, event_id=post.event_id), now_utc())
        return _queue_template(cards, {"view": "all", "city": post.city, "channel": ""}, back=cards[0].path,
                               single=cards[0])

    def act(post_id: int, action, *, keep_text: str | None = None, reason_error: bool = False):
        back = back_target()
        with PostStore(config) as store:
            post = post_for_user(store, post_id)
            try:
                message = action(store, post)
            except PostError as error:
                problem = _one_line(str(error), post_id)
                return redisplay(back, {post_id: (problem, keep_text, reason_error)}), 422
        flash(message, "success")
        return redirect(back, code=303)

    def redisplay(back: str, errors: dict):
        """The page the form came from, again, with the error on its card and the person's text kept."""
        from urllib.parse import parse_qsl, urlsplit

        parts = urlsplit(back)
        if parts.path.startswith("/posts/") and parts.path[7:].isdigit():
            with PostStore(config) as store:
                post = post_for_user(store, int(parts.path[7:]))
                cards = build_cards(store, config, store.find(city=post.city, event_id=post.event_id), now_utc())
            _apply_errors(cards, errors)
            return _queue_template(cards, {"view": "all", "city": post.city, "channel": ""}, back=cards[0].path,
                                   single=cards[0])
        chosen = filters(dict(parse_qsl(parts.query)))
        page, _ = queue_page(chosen, errors=errors)
        return page

    def what(post: Post) -> str:
        title = post.snapshot.get("title") or post.event_id
        return f"{kind_of(post.channel).label} {KIND_LABELS.get(post.kind, post.kind).lower()} of “{title}”"

    @bp.post("/posts/<int:post_id>/approve")
    def approve(post_id: int):
        def do(store, post):
            done = approvals.approve(store, auth().people, post.id, g.user.email, via="web",
                                     expected_hash=request.form.get("hash") or None)
            return f"Approved: {what(done)}. {_when(done, now_utc(), None)}."
        return act(post_id, do)

    @bp.post("/posts/meetup/approve")
    def approve_meetup():
        back = back_target()
        chosen = request.form.getlist("post")
        if not chosen or len(chosen) > 50 or not all(re.fullmatch(r"\d{1,12}:[0-9a-f]{12}", c) for c in chosen):
            abort(400, description="post: expected ID:HASH for each post to approve")
        done, errors = [], {}
        with PostStore(config) as store:
            for item in chosen:
                post_id, _, shown_hash = item.partition(":")
                post = post_for_user(store, int(post_id))
                try:
                    done.append(approvals.approve(store, auth().people, post.id, g.user.email, via="web",
                                                  expected_hash=shown_hash))
                except PostError as error:
                    errors[post.id] = (_one_line(str(error), post.id), None, False)
        if errors:
            if done:
                flash(f"Approved {len(done)} of {len(chosen)} posts; see below for the others.", "success")
            return redisplay(back, errors), 422
        title = done[0].snapshot.get("title") or done[0].event_id
        flash(f"Approved all {len(done)} posts of “{title}”. They go out with the next publish run when due.", "success")
        return redirect(back, code=303)

    @bp.post("/posts/<int:post_id>/reject")
    def reject(post_id: int):
        reason = request.form.get("reason", "").strip()

        def do(store, post):
            if len(reason) > MAX_REASON:
                raise PostError(f"a reason of at most {MAX_REASON} characters, please")
            if not reason:
                raise PostError("say why it is rejected (the reason is kept with the post)")
            done = approvals.reject(store, auth().people, post.id, g.user.email, reason, via="web",
                                    expected_hash=request.form.get("hash") or None)
            return f"Rejected: {what(done)}. It will not be sent."
        return act(post_id, do, reason_error=True)

    @bp.post("/posts/<int:post_id>/edit")
    def edit(post_id: int):
        text = request.form.get("text", "").replace("\r\n", "\n")

        def do(store, post):
            if request.form.get("hash") and approvals.text_hash(post) != request.form["hash"]:
                raise PostError("the wording was changed meanwhile (by someone else, or the meetup changed); "
                                "your text is kept below: compare it with the new wording")
            done = approvals.edit(store, auth().people, post.id, text, g.user.email, via="web")
            state = STATE_LABELS.get(done.state, done.state).lower()
            return f"Saved the new wording of the {what(done)}; it is {state}."
        return act(post_id, do, keep_text=text)

    @bp.post("/posts/<int:post_id>/retry")
    def retry(post_id: int):
        def do(store, post):
            done = approvals.retry(store, auth().people, post.id, g.user.email, via="web")
            return f"Sending again: {what(done)}. It goes out with the next publish run."
        return act(post_id, do)

    @bp.post("/posts/<int:post_id>/resolve")
    def resolve(post_id: int):
        out = request.form.get("out")
        url = request.form.get("url", "").strip()

        def do(store, post):
            if out not in ("yes", "no"):
                raise PostError("say whether it is out")
            if out == "yes" and not url:
                raise PostError("give the link of the post as it is on the channel")
            done = approvals.resolve(store, post.id, published_url=url if out == "yes" else None, actor="",
                                     people=auth().people, email=g.user.email, via="web")
            return (f"Marked as published: {what(done)}." if done.state == "published"
                    else f"Sending again: {what(done)}. It goes out with the next publish run.")
        return act(post_id, do)

    @bp.post("/posts/<int:post_id>/measure")
    def measure(post_id: int):
        """The live counter: the text as the channel would count it, by the very rule the server applies."""
        text = request.form.get("text", "").replace("\r\n", "\n")
        with PostStore(config) as store:
            post = post_for_user(store, post_id)
        return jsonify(measure_text(post, text))

    @bp.get("/posts/calendar")
    def calendar():
        from posters.calendar import calendar_view

        user = auth().user()
        if user is None:
            abort(401)
        chosen = filters({k: v for k, v in request.args.items() if k in ("city", "channel")})
        span = request.args.get("span", "week")
        if span not in ("week", "month"):
            abort(400, description="span: week or month")
        try:
            day = dt.date.fromisoformat(request.args["date"]) if request.args.get("date") else None
        except ValueError:
            abort(400, description="date: YYYY-MM-DD")
        with PostStore(config) as store:
            posts = [p for p in store.find() if user.can_see(p.city) and (not chosen["city"] or p.city == chosen["city"])
                     and (not chosen["channel"] or p.channel == chosen["channel"])]
            cities = sorted({p.city for p in store.find() if user.can_see(p.city)}
                            | {c.slug for c in config.cities if user.can_see(c.slug)})
            shown = calendar_view(posts, store.published_times(), span=span, day=day, now=now_utc())
        return render_template("posts/calendar.html", cal=shown, chosen=chosen, span=span, cities=cities,
                               channel_kinds=kinds(), page="posts", state_labels=STATE_LABELS)

    @bp.post("/slack/interactions")
    def slack_interactions():
        body = request.get_data(cache=False)
        with PostStore(config) as store:
            answer = handle_interaction(config, store, auth().people, request.headers, body)
        response: Response = jsonify(answer.json())
        response.status_code = answer.status
        return response

    return bp


def _queue_template(cards: list[Card], chosen: dict, *, back: str, counts: dict | None = None,
                    cities: list[str] | None = None, single: Card | None = None) -> str:
    return render_template("posts/queue.html", cards=cards, chosen=chosen, views=VIEWS, counts=counts,
                           cities=cities or [chosen["city"]], channel_kinds=kinds(),
                           notices=get_flashed_messages(with_categories=True), back=back, page="posts",
                           single=single, history_line=history_line, local=local)


def measure_text(post: Post, plain: str) -> dict:
    """What the live counter says of `plain` as the new words of `post`: the count by the channel's
    own rule after its escaping, or why the channel would refuse it (too long is refused before
    it is measured)."""
    kind = kind_of(post.channel)
    if len(plain) > kind.max_edit_chars:
        return {"ok": False, "count": len(plain), "limit": kind.max_edit_chars,
                "text": f"too long for {kind.label}: {len(plain):,} characters, it takes at most {kind.max_edit_chars:,}"}
    try:
        sent, _ = kind.edited(post.content, plain)
    except DraftError as error:
        used, limit = kind.count(plain)
        return {"ok": False, "count": used, "limit": limit, "text": str(error)}
    used, limit = kind.count(sent)
    return {"ok": True, "count": used, "limit": limit, "text": f"{used}/{limit}"}


def _one_line(message: str, post_id: int) -> str:
    """A store's message without its "post 7:" prefix (the card already says which post)."""
    return re.sub(rf"^post {post_id}(:| is)", lambda m: "" if m.group(1) == ":" else "It is", message).strip()


def _apply_errors(cards: list[Card], errors: dict) -> None:
    for card in cards:
        for view in card.posts:
            if view.post.id in errors:
                problem, kept, on_reason = errors[view.post.id]
                if on_reason:
                    view.reason_error = problem
                else:
                    view.error = problem
                if kept is not None:
                    view.edit_text = kept
                    view.editing = True
                    view.counter = measure_text(view.post, kept)

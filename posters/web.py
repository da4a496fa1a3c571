"""The approval queue in `pulse serve` and the Slack interactions endpoint: a `WebExtension` of
the web shell (registered by `posters.plugin`). The shell's gate applies:
sign-in required (except the Slack endpoint, which proves itself by its signature), CSRF on
every form (except the Slack endpoint, which Slack cannot send a token to), and a person sees and
acts on the posts of their own cities only (others answer 404, as the dashboards do).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, get_flashed_messages, jsonify, redirect, render_template, request

from pulse.core.config import Config
from pulse.web.auth import auth
from pulse.web.extension import NavLink, WebExtension

from posters import approvals
from posters.channels import kind_of
from posters.publisher import dry_run_text
from posters.slack_approvals import handle_interaction
from posters.store import STATES, PostError, PostStore

SLACK_ENDPOINT = "posts.slack_interactions"


def extension() -> WebExtension:
    return WebExtension(name="posts", blueprint=make_blueprint, public_endpoints=frozenset({SLACK_ENDPOINT}),
                        csrf_exempt_endpoints=frozenset({SLACK_ENDPOINT}), nav_links=(NavLink("Posts", "/posts"),))


def make_blueprint(config: Config) -> Blueprint:
    bp = Blueprint("posts", __name__, template_folder="templates")

    def post_for_user(store: PostStore, post_id: int):
        try:
            post = store.get(post_id)
        except PostError:
            abort(404)
        auth().require_city(post.city)  # 404 for a city that is not theirs
        return post

    @bp.get("/posts")
    def queue():
        user = auth().user()
        if user is None:
            abort(401)
        status = request.args.get("status", "pending_approval")
        if status not in STATES and status != "all":
            abort(400, description=f"status: one of {', '.join(STATES)} or all")
        with PostStore(config) as store:
            posts = [p for p in store.find(state=None if status == "all" else status) if user.can_see(p.city)]
        shown = [{"post": p, "payload": dry_run_text(p),
                  "x_length": kind_of(p.channel).measure(p.text),
                  "hash": approvals.text_hash(p)} for p in posts]
        return render_template("posts/queue.html", posts=shown, status=status, states=STATES,
                               flashes=get_flashed_messages(), page="posts")

    def _act(post_id: int, action):
        with PostStore(config) as store:
            post = post_for_user(store, post_id)
            try:
                message = action(store, post)
            except PostError as error:
                flash(f"Post {post_id}: {error}")
            else:
                flash(message)
        return redirect(f"/posts?status={request.form.get('back', 'pending_approval')}", code=303)

    @bp.post("/posts/<int:post_id>/approve")
    def approve(post_id: int):
        people = auth().people

        def act(store, post):
            done = approvals.approve(store, people, post.id, g.user.email, via="web",
                                     expected_hash=request.form.get("hash") or None)
            return f"Post {done.id} {done.state}: it goes out with the next publish run when due."
        return _act(post_id, act)

    @bp.post("/posts/<int:post_id>/reject")
    def reject(post_id: int):
        people = auth().people

        def act(store, post):
            done = approvals.reject(store, people, post.id, g.user.email, request.form.get("reason", ""), via="web",
                                    expected_hash=request.form.get("hash") or None)
            return f"Post {done.id} rejected."
        return _act(post_id, act)

    @bp.post("/posts/<int:post_id>/edit")
    def edit(post_id: int):
        people = auth().people

        def act(store, post):
            text = request.form.get("text", "").replace("\r\n", "\n")
            done = approvals.edit(store, people, post.id, text, g.user.email, via="web")
            measured = kind_of(done.channel).measure(done.text)
            extra = f" ({measured})" if measured else ""
            return f"Post {done.id} edited{extra}; it is {done.state.replace('_', ' ')}."
        return _act(post_id, act)

    @bp.post("/slack/interactions")
    def slack_interactions():
        body = request.get_data(cache=False)
        with PostStore(config) as store:
            answer = handle_interaction(config, store, auth().people, request.headers, body)
        response: Response = jsonify(answer.json())
        response.status_code = answer.status
        return response

    return bp

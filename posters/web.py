"""The approval queue in `pulse serve` and the Slack interactions endpoint, as a Flask blueprint.

Plugged into the dashboards app through its blueprint hook (it imports nothing from
`dashboards`): `create_app(config, **posters.web.app_options(config))`. The app's gate applies:
sign-in required (except the Slack endpoint, which proves itself by its signature), CSRF on
every form (except the Slack endpoint, which Slack cannot send a token to), and a person sees and
acts on the posts of their own cities only (others answer 404, as the dashboards do).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, g, get_flashed_messages, jsonify, redirect, \
    render_template, request

from pulse.config import Config

from posters import approvals, x_length
from posters.publisher import dry_run_text
from posters.slack_approvals import handle_interaction
from posters.store import STATES, PostError, PostStore

AUTH = "pulse.auth"
SLACK_ENDPOINT = "posts.slack_interactions"


def app_options(config: Config) -> dict:
    """What `create_app` needs to serve the queue and the Slack buttons."""
    return {"blueprints": [make_blueprint(config)], "public_endpoints": {SLACK_ENDPOINT},
            "csrf_exempt_endpoints": {SLACK_ENDPOINT}}


def make_blueprint(config: Config) -> Blueprint:
    bp = Blueprint("posts", __name__, template_folder="templates")

    def auth():
        return current_app.extensions[AUTH]

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
                  "x_length": x_length.weighted_length(p.text) if p.channel == "x" else None,
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
            extra = f" ({x_length.weighted_length(done.text)}/280 as X counts)" if done.channel == "x" else ""
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

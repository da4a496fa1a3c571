"""Approving in Slack: drafts go to the city's organisers' channel with Approve and Reject
buttons; `pulse serve` receives the clicks (Slack's interaction requests) and hands them here.

A click counts only when the request is Slack's (slack-sdk's `SignatureVerifier`: HMAC-SHA256
of `v0:{timestamp}:{body}` with the app's signing secret, compared in constant time), fresh
(timestamp within 5 minutes, so an old captured request cannot be replayed), not seen before
(the same signed request twice is a replay too), and from a Slack user mapped (`pulse users`)
to an organiser of the post's city. Malformed signature headers or a body that is not UTF-8
are refused with 400 before anything is written; so is, once verified, a payload of any shape
but the two Pulse reads (a click, the reject form), each a pydantic model below.
The button carries the post id and a fingerprint of the wording it showed: a click on a
preview of wording that changed since is refused.

After a decision the request message itself says it (approved by whom, or rejected by whom and
why) and loses its buttons: at once for a click in Slack, with the next publish run for a
decision taken in the web queue or the CLI. Reject opens a form (a Slack modal) for the reason.

A request is sent once, like a post: `approval_request` is set to `?` (committed) before the
message is sent and to the message's `channel/ts` after; the message carries a marker in its
metadata, so a request whose answer was lost (a timeout, a crash) is looked up in the channel
by the next run instead of being sent again.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from pulse.core.config import Config, ConfigError, secret
from pulse.core.egress import EgressRefused
from pulse.people import People, User
from pulse.web import security_log
from pulse.web import scope

from posters import approvals
from posters.channels import SendError, kind_of, make_channel
from posters.channels.slack import SlackKind, escape as escape_slack
from posters.store import Post, PostError, PostStore, parse_iso

MAX_AGE_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
APPROVE, REJECT = "pulse_approve", "pulse_reject"
REJECT_VIEW = "pulse_reject_reason"
REQUEST_EVENT = "pulse_approval_request"
SENDING = "?"
"""`approval_request` while a request is on its way, or when its answer was lost: look it up first."""
REASON_LIMIT = 500


# -- what Pulse reads of Slack's payloads -----------------------------------------------------------
# Signed by Slack is not the same as well formed: the payload is still data from outside, and any
# field of another type or shape is refused (400) before any of it is used.

_Name = Annotated[str, StringConstraints(max_length=255)]


class _Payload(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class _User(_Payload):
    id: _Name


class _Action(_Payload):
    action_id: Literal[APPROVE, REJECT]
    value: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}:[0-9a-f]{0,64}$")]
    """The post id and the fingerprint of the wording the button was shown with (`approval_message`)."""

    @property
    def post_id(self) -> int:
        return int(self.value.partition(":")[0])

    @property
    def shown_hash(self) -> str:
        return self.value.partition(":")[2]


class _Container(_Payload):
    channel_id: _Name | None = None
    message_ts: _Name | None = None


class _Channel(_Payload):
    id: _Name | None = None


class _Message(_Payload):
    ts: _Name | None = None


class _Click(_Payload):
    type: Literal["block_actions"]
    user: _User
    actions: Annotated[list[_Action], Field(min_length=1, max_length=1)]
    container: _Container | None = None
    channel: _Channel | None = None
    message: _Message | None = None
    trigger_id: _Name = ""


class _ReasonInput(_Payload):
    value: str | None = None


class _ReasonBlock(_Payload):
    reason: _ReasonInput


class _Values(_Payload):
    reason: _ReasonBlock


class _State(_Payload):
    values: _Values


class _View(_Payload):
    callback_id: Literal[REJECT_VIEW]
    private_metadata: str
    state: _State


class _Form(_Payload):
    type: Literal["view_submission"]
    user: _User
    view: _View


class _FormMeta(_Payload):
    """What the reject form carries from the click to its submission (`_open_reject_form`)."""
    post: Annotated[int, Field(ge=1, lt=10**18)]
    hash: _Name | None = None
    message: _Name | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    body: dict | None = None
    """What to answer instead of the ephemeral text (a modal's `response_action`)."""

    def json(self) -> dict:
        if self.body is not None:
            return self.body
        return {"response_type": "ephemeral", "replace_original": False, "text": self.text}


def request_marker(post: Post) -> str:
    """What a request message carries to be found again: the post, and the wording it shows."""
    return f"{post.marker}:{approvals.text_hash(post)}"


def approval_message(post: Post, decided: str | None = None) -> tuple[str, list[dict]]:
    """The organisers' channel message for a draft: its exact wording, and the two buttons (or,
    once decided, what was decided instead of them)."""
    kind = kind_of(post.channel)
    title = escape_slack(post.snapshot.get("title") or post.event_id)
    label = f"{kind.label} {post.kind} of “{title}” for {post.city}"
    quoted = "\n".join("> " + line for line in post.text.split("\n")) if post.channel == SlackKind.name else \
        "\n".join("> " + line for line in escape_slack(post.text).split("\n"))
    detail = kind.measure(post.text) or (f"link: {post.content['link']}" if post.content.get("link") else "")
    value = f"{post.id}:{approvals.text_hash(post)}"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Approval needed:* {label}"[:2900]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": quoted[:2900]}},
    ]
    if detail:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape_slack(detail)[:2900]}]})
    if decided:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": decided[:2900]}]})
        return f"{decided} ({label})"[:3000], blocks
    blocks.append({"type": "actions", "elements": [
        {"type": "button", "style": "primary", "action_id": APPROVE, "value": value,
         "text": {"type": "plain_text", "text": "Approve"}},
        {"type": "button", "style": "danger", "action_id": REJECT, "value": value,
         "text": {"type": "plain_text", "text": "Reject…"}},
    ]})
    return f"Approval needed: {label}"[:3000], blocks


def decision_text(post: Post, via: str = "") -> str | None:
    """What a decided request message says (None while the post still awaits approval)."""
    zone = ZoneInfo(post.snapshot.get("timezone") or "UTC")

    def when(stamp: str | None) -> str:
        return parse_iso(stamp).astimezone(zone).strftime("%a %-d %b, %H:%M %Z") if stamp else ""

    how = f" ({via})" if via else ""
    if post.state == "pending_approval":
        return None
    if post.state == "rejected":
        return (f":x: Rejected by {escape_slack(post.rejected_by or '?')}{how} at {when(post.updated_at)}: "
                f"{escape_slack(post.reject_reason or '')}")
    if post.approved_by and post.state in ("approved", "publishing", "published", "scheduled"):
        after = {"published": "published", "publishing": "being published"}.get(post.state,
                                                                               "it goes out with the next publish run")
        return f":white_check_mark: Approved by {escape_slack(post.approved_by)}{how} at {when(post.approved_at)}: {after}"
    return f":information_source: No longer awaiting approval: {post.state.replace('_', ' ')}"


def send_approval_requests(config: Config, store: PostStore, channel_for) -> tuple[int, list[str]]:
    """Send each draft awaiting approval (and not yet sent) to its city's organisers' channel, once;
    and update the request messages of posts decided elsewhere (the web queue, the CLI)."""
    sent, errors = 0, []
    for city in config.cities:
        if not city.approvals_slack_channel:
            continue
        posts = store.find(city=city.slug)
        waiting = [p for p in posts if p.state == "pending_approval" and p.approval_request in (None, SENDING)]
        decided = [p for p in posts if p.state != "pending_approval" and p.approval_request not in (None, SENDING)
                   and p.approval_settled != p.state]
        if not waiting and not decided:
            continue
        where = f"cities.{city.slug}.approvals_slack_channel"
        try:
            channel = channel_for(city.slug, SlackKind.name)
        except (ConfigError, SendError, PostError) as error:
            errors.append(f"{where}: {error}")
            continue
        for post in waiting:
            try:
                if _send_request(store, channel, city.approvals_slack_channel, post):
                    sent += 1
            except SendError as error:
                errors.append(f"{where}: approval request for post {post.id}: {error.message} "
                              "(the next run looks for it, and sends it only if it is not there)")
                break
        for post in decided:
            problem = settle_message(store, channel, post)
            if problem:
                errors.append(f"{where}: {problem}")
    return sent, errors


def _send_request(store: PostStore, channel, approvals_channel: str, post: Post) -> bool:
    """Send one request unless it is there already (a lost answer); True when one was sent."""
    marker = request_marker(post)
    if post.approval_request == SENDING:
        found = channel.find_marked(approvals_channel, REQUEST_EVENT, marker)
        if found is not None:
            with store.transaction() as con:
                store.change(con, post.id, actor="pulse (publisher)", action="approval request found",
                             detail=f"its answer was lost; found in Slack {approvals_channel} by its marker",
                             approval_request=found.external_id, expect=("pending_approval",))
            return False
    with store.transaction() as con:
        current = store.get(post.id)
        if current.state != "pending_approval" or approvals.text_hash(current) != approvals.text_hash(post):
            return False  # changed meanwhile: the next run sends the new wording
        store.change(con, post.id, actor="pulse (publisher)", action="approval request", approval_request=SENDING)
    # Committed: from here a lost answer or a crash leaves `?`, and the next run looks first.
    text, blocks = approval_message(post)
    try:
        answer = channel.call(lambda: channel.client.chat_postMessage(
            channel=approvals_channel, text=text, blocks=blocks, unfurl_links=False,
            metadata={"event_type": REQUEST_EVENT, "event_payload": {"marker": marker, "post_id": post.id}}),
            "chat.postMessage")
    except SendError as error:
        if error.outcome == "retry":  # certainly not sent: nothing to look for
            with store.transaction() as con:
                store.change(con, post.id, actor="pulse (publisher)", action="approval request failed",
                             detail=error.message, approval_request=None)
        raise
    with store.transaction() as con:
        store.change(con, post.id, actor="pulse (publisher)", action="approval requested",
                     detail=f"sent to Slack {approvals_channel}", approval_request=f"{answer['channel']}/{answer['ts']}")
    return True


def settle_message(store: PostStore, channel, post: Post, via: str = "", where: str | None = None) -> str | None:
    """Update a request message to say what was decided (no buttons left); None, or what went wrong."""
    reference = where or post.approval_request
    said = decision_text(post, via)
    if not reference or reference == SENDING or said is None:
        return None
    channel_id, _, ts = reference.partition("/")
    text, blocks = approval_message(post, decided=said)
    try:
        channel.call(lambda: channel.client.chat_update(channel=channel_id, ts=ts, text=text, blocks=blocks),
                     "chat.update")
    except SendError as error:
        return f"could not update the approval request of post {post.id}: {error.message}"
    with store.transaction() as con:
        store.change(con, post.id, actor="pulse", action="approval request updated", approval_settled=post.state)
    return None


def signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    from slack_sdk.signature import SignatureVerifier

    return SignatureVerifier(signing_secret).generate_signature(timestamp=timestamp, body=body)


class _At:
    """slack-sdk's Clock, at the instant this request is judged."""

    def __init__(self, now: float):
        self._now = now

    def now(self) -> float:
        return self._now


def handle_interaction(config: Config, store: PostStore, people: People, headers, body: bytes,
                       now: float | None = None) -> Answer:
    """One interaction request from Slack → the answer to give (400 malformed, 401
    unsigned/stale/replayed, 403 not allowed)."""
    from slack_sdk.signature import SignatureVerifier

    now = time.time() if now is None else now
    if not config.publisher.slack_signing_secret_env:
        return Answer(503, "Slack approvals are not set up: set publisher.slack_signing_secret_env")
    signing_secret = secret(config.publisher.slack_signing_secret_env, "publisher.slack_signing_secret_env")
    lower = {k.lower(): v for k, v in dict(headers).items()}
    timestamp = lower.get("x-slack-request-timestamp", "")
    given = lower.get("x-slack-signature", "")

    def refuse(status: int, text: str, reason: str) -> Answer:
        security_log.event("slack_signature_refused", reason=reason, status=status)
        return Answer(status, text)

    if not timestamp or not given:
        return refuse(401, "missing request timestamp or signature", "missing")
    # Checked before slack-sdk sees them: it would raise on a timestamp that is not a number,
    # a signature that is not ASCII, or a body that is not UTF-8 (a 500 for a forged request).
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(given):
        return refuse(400, "malformed request timestamp or signature", "malformed")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return refuse(400, "the request body is not UTF-8", "malformed")
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return refuse(401, "request timestamp is more than 5 minutes away: refused as a possible replay", "stale")
    if not SignatureVerifier(signing_secret, clock=_At(now)).is_valid(body, timestamp, given):
        return refuse(401, "bad signature", "bad signature")
    if store.seen_slack_request(given, now):
        return refuse(401, "this request was already received: refused as a replay", "replay")
    try:
        payload = json.loads(parse_qs(body.decode("utf-8"))["payload"][0])
        if isinstance(payload, dict) and payload.get("type") == "view_submission":
            form = _Form.model_validate(payload)
            meta = _FormMeta.model_validate_json(form.view.private_metadata)
            slack_user, post_id, what = form.user.id, meta.post, "reject with a reason"
            user = people.by_slack_user(slack_user)
            answer = _reject_submitted(config, store, people, form, meta, user)
        else:
            click = _Click.model_validate(payload)
            slack_user, post_id = click.user.id, click.actions[0].post_id
            what = click.actions[0].action_id.removeprefix("pulse_")
            user = people.by_slack_user(slack_user)
            answer = _clicked(config, store, people, click, user)
    except (KeyError, IndexError, ValueError, ValidationError):
        return Answer(400, "not a Pulse button click")
    # Who acted: no session says it (the web shell's own line for this request has no email).
    security_log.event("slack_action", slack_user=slack_user, email=user.email if user else None, post_id=post_id,
                       method=what, status=answer.status)
    return answer


def _clicked(config: Config, store: PostStore, people: People, click: _Click, user: User | None) -> Answer:
    """A verified, well-formed button click by the Slack user mapped to `user` (None: nobody)."""
    action = click.actions[0]
    slack_user, post_id, shown_hash = click.user.id, action.post_id, action.shown_hash
    container = click.container or _Container()
    channel_id = container.channel_id or (click.channel or _Channel()).id
    message_ts = container.message_ts or (click.message or _Message()).ts
    clicked = f"{channel_id}/{message_ts}" if channel_id and message_ts else None
    if user is None:
        return Answer(403, f"Slack user {slack_user} is not mapped to a Pulse organiser (`pulse users`); nothing done")
    scope.act_for(user)  # signed by Slack, not a session: the posts it may read are this person's
    via = f"Slack {slack_user}"
    try:
        if action.action_id == APPROVE:
            post = approvals.approve(store, people, post_id, user.email, via=via, expected_hash=shown_hash or None)
            _update_clicked(config, store, post, "Slack", clicked)
            return Answer(200, f"Post {post.id} approved by {user.email}: it goes out with the next publish run")
        post = store.get(post_id)
        approvals.approver(people, user.email, post.city)
        if shown_hash and approvals.text_hash(post) != shown_hash:
            raise PostError(f"post {post_id} was changed since this preview; look at the new wording first")
        if post.state == "rejected":
            return Answer(200, f"Post {post.id} was already rejected by {post.rejected_by}")
        opened = _open_reject_form(config, post, shown_hash, clicked, click.trigger_id)
        return Answer(200, opened or "")
    except PostError as error:
        status = 403 if "not an organiser" in str(error) or "not a Pulse user" in str(error) else 409
        return Answer(status, str(error))


def _slack_channel(config: Config, city: str):
    """The city's Slack channel client (its bot token), or None when it has none."""
    settings = next((c.channel(SlackKind.name) for c in config.cities if c.slug == city), None)
    return make_channel(settings, config.publisher) if settings is not None else None


def _update_clicked(config: Config, store: PostStore, post: Post, via: str, clicked: str | None) -> None:
    """Say the decision in the message that was clicked (and in the post's own request message)."""
    try:
        channel = _slack_channel(config, post.city)
    except (ConfigError, SendError, EgressRefused) as error:
        store.note(post.id, f"the approval request could not be updated: {error}")
        return
    if channel is None:
        return
    for where in dict.fromkeys(w for w in (clicked, post.approval_request) if w and w != SENDING):
        problem = settle_message(store, channel, store.get(post.id), via, where)
        if problem:
            store.note(post.id, problem)


def _open_reject_form(config: Config, post: Post, shown_hash: str, clicked: str | None, trigger_id: str) -> str | None:
    """Slack's modal asking why; its submission comes back as `view_submission`."""
    meta = json.dumps({"post": post.id, "hash": shown_hash or approvals.text_hash(post), "message": clicked})
    title = (post.snapshot.get("title") or post.event_id)[:150]
    view = {"type": "modal", "callback_id": REJECT_VIEW, "private_metadata": meta,
            "title": {"type": "plain_text", "text": "Reject this post"},
            "submit": {"type": "plain_text", "text": "Reject"}, "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                {"type": "section", "text": {"type": "plain_text",
                                             "text": f"{kind_of(post.channel).label} {post.kind} of “{title}”"}},
                {"type": "input", "block_id": "reason", "label": {"type": "plain_text", "text": "Why not?"},
                 "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True,
                             "max_length": REASON_LIMIT}},
            ]}
    try:
        channel = _slack_channel(config, post.city)
        if channel is None:
            return "Reject it in the Posts queue: this city has no Slack bot token to open the form with"
        channel.call(lambda: channel.client.views_open(trigger_id=trigger_id, view=view), "views.open")
    except (ConfigError, SendError, EgressRefused) as error:
        return f"Could not open the form for a reason ({error}); reject it in the Posts queue"
    return None


def _reject_submitted(config: Config, store: PostStore, people: People, form: _Form, meta: _FormMeta,
                      user: User | None) -> Answer:
    reason = (form.view.state.values.reason.reason.value or "").strip()
    slack_user = form.user.id
    if user is None:
        return Answer(403, f"Slack user {slack_user} is not mapped to a Pulse organiser",
                      body={"response_action": "errors", "errors": {"reason": "You are not a Pulse organiser."}})
    if not reason or len(reason) > REASON_LIMIT:
        return Answer(200, "a reason is needed", body={"response_action": "errors", "errors": {
            "reason": f"Say why, in at most {REASON_LIMIT} characters."}})
    try:
        post = approvals.reject(store, people, meta.post, user.email, reason, via=f"Slack {slack_user}",
                                expected_hash=meta.hash or None)
    except PostError as error:
        return Answer(200, str(error), body={"response_action": "errors", "errors": {"reason": str(error)[:150]}})
    _update_clicked(config, store, post, "Slack", meta.message)
    return Answer(200, f"Post {post.id} rejected by {user.email}", body={"response_action": "clear"})

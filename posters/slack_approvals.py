"""Approving in Slack: drafts go to the city's organisers' channel with Approve and Reject
buttons; `pulse serve` receives the clicks (Slack's interaction requests) and hands them here.

A click counts only when the request is Slack's (HMAC-SHA256 of `v0:{timestamp}:{body}` with
the app's signing secret, compared in constant time), fresh (timestamp within 5 minutes, so an
old captured request cannot be replayed), not seen before (the same signed request twice is a
replay too), and from a Slack user mapped (`pulse users`) to an organiser of the post's city.
The button carries the post id and a fingerprint of the wording it showed: a click on a
preview of wording that changed since is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from pulse.core.config import Config, ConfigError, secret
from pulse.people import People
from pulse.web import scope

from posters import approvals
from posters.channels import SendError, kind_of
from posters.channels.slack import SlackKind, escape as escape_slack
from posters.store import PostError, PostStore

MAX_AGE_SECONDS = 300
APPROVE, REJECT = "pulse_approve", "pulse_reject"


@dataclass(frozen=True)
class Answer:
    status: int
    text: str

    def json(self) -> dict:
        return {"response_type": "ephemeral", "replace_original": False, "text": self.text}


def approval_message(post) -> tuple[str, list[dict]]:
    """The organisers' channel message for a draft: its exact wording, and the two buttons."""
    kind = kind_of(post.channel)
    label = f"{kind.label} {post.kind} for {post.city} (post {post.id})"
    quoted = "\n".join("> " + line for line in escape_slack(post.text).split("\n"))
    detail = kind.measure(post.text) or (f"link: {post.content['link']}" if post.content.get("link") else "")
    value = f"{post.id}:{approvals.text_hash(post)}"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Approval needed:* {label}"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": quoted[:2900]}},
    ]
    if detail:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape_slack(detail)}]})
    blocks.append({"type": "actions", "elements": [
        {"type": "button", "style": "primary", "action_id": APPROVE, "value": value,
         "text": {"type": "plain_text", "text": "Approve"}},
        {"type": "button", "style": "danger", "action_id": REJECT, "value": value,
         "text": {"type": "plain_text", "text": "Reject"}},
    ]})
    return f"Approval needed: {label}", blocks


def send_approval_requests(config: Config, store: PostStore, channel_for) -> tuple[int, list[str]]:
    """Send each draft awaiting approval (and not yet sent) to its city's organisers' channel."""
    sent, errors = 0, []
    for city in config.cities:
        if not city.approvals_slack_channel:
            continue
        waiting = [p for p in store.find(state="pending_approval", city=city.slug) if not p.approval_request]
        if not waiting:
            continue
        try:
            client = channel_for(city.slug, SlackKind.name).client
        except (ConfigError, SendError, PostError) as error:
            errors.append(f"cities.{city.slug}.approvals_slack_channel: {error}")
            continue
        for post in waiting:
            text, blocks = approval_message(post)
            try:
                answer = client.chat_postMessage(channel=city.approvals_slack_channel, text=text, blocks=blocks,
                                                 unfurl_links=False)
            except Exception as error:  # noqa: BLE001 - an approval request is retried next run
                errors.append(f"approval request for post {post.id} to {city.approvals_slack_channel}: {error}")
                break
            with store.transaction() as con:
                store.change(con, post.id, actor="pulse (publisher)", action="approval requested",
                             detail=f"sent to Slack {city.approvals_slack_channel}",
                             approval_request=f"{answer['channel']}/{answer['ts']}")
            sent += 1
    return sent, errors


def signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v0=" + digest.hexdigest()


def handle_interaction(config: Config, store: PostStore, people: People, headers, body: bytes,
                       now: float | None = None) -> Answer:
    """One interaction request from Slack → the answer to give (401 unsigned/stale/replayed, 403 not allowed)."""
    now = time.time() if now is None else now
    if not config.publisher.slack_signing_secret_env:
        return Answer(503, "Slack approvals are not set up: set publisher.slack_signing_secret_env")
    signing_secret = secret(config.publisher.slack_signing_secret_env, "publisher.slack_signing_secret_env")
    lower = {k.lower(): v for k, v in dict(headers).items()}
    timestamp = lower.get("x-slack-request-timestamp", "")
    given = lower.get("x-slack-signature", "")
    if not timestamp.isdigit():
        return Answer(401, "missing request timestamp")
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return Answer(401, "request timestamp is more than 5 minutes away: refused as a possible replay")
    if not hmac.compare_digest(signature(signing_secret, timestamp, body), given):
        return Answer(401, "bad signature")
    if store.seen_slack_request(given, now):
        return Answer(401, "this request was already received: refused as a replay")
    try:
        payload = json.loads(parse_qs(body.decode("utf-8"))["payload"][0])
        action = payload["actions"][0]
        slack_user = payload["user"]["id"]
        post_id_text, _, shown_hash = action["value"].partition(":")
        post_id = int(post_id_text)
    except (KeyError, IndexError, ValueError, TypeError, UnicodeDecodeError):
        return Answer(400, "not a Pulse button click")
    if payload.get("type") != "block_actions" or action.get("action_id") not in (APPROVE, REJECT):
        return Answer(400, "not a Pulse button click")
    user = people.by_slack_user(slack_user)
    if user is None:
        return Answer(403, f"Slack user {slack_user} is not mapped to a Pulse organiser (`pulse users`); nothing done")
    scope.act_for(user)  # signed by Slack, not a session: the posts it may read are this person's
    via = f"Slack {slack_user}"
    try:
        if action["action_id"] == APPROVE:
            post = approvals.approve(store, people, post_id, user.email, via=via, expected_hash=shown_hash or None)
            return Answer(200, f"Post {post.id} approved by {user.email}: it goes out with the next publish run")
        post = approvals.reject(store, people, post_id, user.email, f"rejected in Slack by {user.email}", via=via,
                                expected_hash=shown_hash or None)
        return Answer(200, f"Post {post.id} rejected by {user.email}")
    except PostError as error:
        status = 403 if "not an organiser" in str(error) or "not a Pulse user" in str(error) else 409
        return Answer(status, str(error))

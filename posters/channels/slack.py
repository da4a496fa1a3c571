"""Slack through slack-sdk's `WebClient`, pointed at `base_url` (Slack's own, or a test server).

The Block Kit message carries the post's marker as message metadata (invisible to readers), so
after a crash or an unanswered request the publisher can look in the channel's history (or the
thread, for a follow-up) and settle the post instead of asking a person. Follow-ups (updates,
cancellations) are replies in the announcement's thread.
"""

from __future__ import annotations

import re
import socket
import urllib.error

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from pulse.config import secret
from posters.allowlist import check_url
from posters.channels import Channel, SendError, Sent, retry_after_header

SLACK_API = "https://slack.com/api/"
MARKER_EVENT = "pulse_post"
AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
               "no_permission", "missing_scope", "not_allowed_token_type", "ekm_access_denied"}
SERVER_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


def make_client(token_env: str, key: str, base_url: str, publisher) -> WebClient:
    base = base_url or SLACK_API
    check_url(base, publisher.allow_hosts_for_tests)
    # retry_handlers=[]: slack-sdk would otherwise resend after a connection error on its own,
    # which could post twice; retries are the publisher's, after it knows the post is not out.
    return WebClient(token=secret(token_env, key), base_url=base.rstrip("/") + "/",
                     timeout=publisher.timeout_seconds, retry_handlers=[])


class SlackChannel(Channel):
    kind = "slack"
    can_look_up = True

    def __init__(self, config, publisher):
        super().__init__(config, publisher)
        self.client = make_client(config.token_env, f"{config.key}.token_env", config.base_url, publisher)
        self._channel_id: str | None = None

    def where(self, post, parent=None) -> str:
        return f"Slack {self.config.channel}" + (" (thread reply)" if parent is not None else "")

    def send(self, post, parent=None) -> Sent:
        kwargs = {"channel": self.config.channel, "text": post.content["text"], "blocks": post.content["blocks"],
                  "metadata": {"event_type": MARKER_EVENT, "event_payload": {"marker": post.marker}},
                  "unfurl_links": False}
        if parent is not None and parent.external_id:
            channel_id, thread_ts = parent.external_id.split("/", 1)
            kwargs.update(channel=channel_id, thread_ts=thread_ts)
        answer = self._call(lambda: self.client.chat_postMessage(**kwargs), "chat.postMessage")
        return _sent(answer["channel"], answer["ts"])

    def find_sent(self, post, parent=None) -> Sent | None:
        """The message carrying this post's marker, if it reached the channel."""
        if parent is not None and parent.external_id:
            channel_id, thread_ts = parent.external_id.split("/", 1)
            pages = self._pages(lambda cursor: self.client.conversations_replies(
                channel=channel_id, ts=thread_ts, include_all_metadata=True, cursor=cursor, limit=200))
        else:
            channel_id = self.channel_id()
            pages = self._pages(lambda cursor: self.client.conversations_history(
                channel=channel_id, include_all_metadata=True, cursor=cursor, limit=200))
        for message in pages:
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == MARKER_EVENT and (metadata.get("event_payload") or {}).get("marker") == post.marker:
                return _sent(channel_id, message["ts"])
        return None

    def channel_id(self) -> str:
        if self._channel_id is None:
            name = self.config.channel.lstrip("#")
            if _CHANNEL_ID.fullmatch(name):
                self._channel_id = name
            else:
                for channel in self._pages(lambda cursor: self.client.conversations_list(
                        types="public_channel,private_channel", exclude_archived=True, cursor=cursor, limit=1000),
                        key="channels"):
                    if channel.get("name") == name:
                        self._channel_id = channel["id"]
                        break
                else:
                    raise SendError("permanent", f"Slack channel {self.config.channel} not found (is the bot in it?)")
        return self._channel_id

    def _pages(self, call, key: str = "messages", limit_pages: int = 20):
        cursor = None
        for _ in range(limit_pages):
            answer = self._call(lambda: call(cursor), "history")
            yield from answer.get(key, [])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    def _call(self, call, method: str):
        try:
            return call()
        except SlackApiError as error:
            raise slack_failure(error, method) from None
        except (TimeoutError, socket.timeout):
            raise SendError("unknown", f"Slack {method}: no answer in time (the message may be out)") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, (ConnectionRefusedError, socket.gaierror)):
                raise SendError("retry", f"Slack {method}: could not connect ({error.reason})") from None
            if isinstance(error.reason, (TimeoutError, socket.timeout)):
                raise SendError("unknown", f"Slack {method}: no answer in time (the message may be out)") from None
            raise SendError("unknown", f"Slack {method}: connection failed ({error.reason})") from None
        except ConnectionError as error:
            raise SendError("unknown", f"Slack {method}: connection lost ({type(error).__name__})") from None


def slack_failure(error: SlackApiError, method: str) -> SendError:
    response = error.response
    status = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    code = data.get("error") or f"HTTP {status}"
    message = f"Slack {method}: {code}"
    if status == 429 or code == "ratelimited":
        return SendError("retry", message, retry_after=retry_after_header(response.headers))
    if code in AUTH_ERRORS or status in (401, 403):
        return SendError("permanent", message + " (check the bot token)")
    if status >= 500 or code in SERVER_ERRORS:
        # Slack may have posted before failing; the marker lookup settles it before any resend.
        return SendError("unknown", message)
    return SendError("permanent", message)


def _sent(channel_id: str, ts: str) -> Sent:
    return Sent(f"{channel_id}/{ts}", f"https://slack.com/archives/{channel_id}/p{ts.replace('.', '')}")

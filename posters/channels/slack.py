"""Slack: the `slack` channel kind (its settings, Block Kit drafting, mrkdwn escaping) and its
client, slack-sdk's `WebClient`, pointed at `base_url` (Slack's own, or a test server).

The client is slack-sdk's `WebClient` with its transport guarded: every request and every
redirect passes the egress check before a connection is made, and a redirect to another host
never carries the bot token (urllib, which slack-sdk uses, follows redirects with every header).

The Block Kit message carries the post's marker as message metadata (invisible to readers), so
after a crash or an unanswered request the publisher can look in the channel's history (or the
thread, for a follow-up) and settle the post instead of asking a person. Follow-ups (updates,
cancellations) are replies in the announcement's thread.
"""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.parse

from pulse.core import registry
from pulse.core.config import secret
from pulse.core.egress import EgressRefused, check_url
from pulse.core.retry import retry_after_header

from posters import drafts
from posters.channels.base import THROTTLE_CAP, Channel, ChannelKind, ChannelSettings, SendError, Sent
from posters.drafts import DraftError

SLACK_API = "https://slack.com/api/"
MARKER_EVENT = "pulse_post"
AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
               "no_permission", "missing_scope", "not_allowed_token_type", "ekm_access_denied"}
SERVER_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


SECTION_LIMIT = 3000
"""Characters in one Block Kit section's text."""


class SlackSettings(ChannelSettings):
    """`[cities.SLUG.channels.slack]`."""

    what = "a slack channel"
    channel: str
    """The channel posts go to, `#name` or its id."""
    token_env: str
    """Environment variable holding the bot token (xoxb-...)."""


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: the three characters that start mentions, links and entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """The text a Slack message's escaped form stands for (`&lt;night&gt;` is `<night>`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def emojize(text: str) -> str:
    """Slack's `:shortcode:` emoji as the characters Slack shows (unknown codes stay as written)."""
    import emoji

    return emoji.emojize(text, language="alias")


def content_of(text: str) -> dict:
    """The Block Kit message: one mrkdwn section, and the same text as the notification fallback."""
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


class SlackKind(ChannelKind):
    name = "slack"
    label = "Slack"
    settings = SlackSettings
    default_rate_per_minute = 20.0
    hosts = ("slack.com",)
    templates = {
        "announce": "*{title}*\n:calendar: {weekday} {date}, {time}\n:round_pushpin: {venue}\n{url}",
        "update": "*Update: {title}*\n_{changes}_\n:calendar: {weekday} {date}, {time}\n:round_pushpin: {venue}\n{url}",
        "cancel": "*Cancelled: {title}* ({weekday} {date})\n{reason}\n{url}",
    }

    max_edit_chars = SECTION_LIMIT

    def account(self, settings) -> str:
        return settings.token_env

    def where(self, settings, name=None) -> str:
        return f"Slack {name or settings.channel}"

    def draft(self, settings, post_kind, meetup, changes=""):
        text = drafts.fit(self.template(settings, post_kind), drafts.fields(meetup, changes),
                          fits=lambda t: len(t) <= SECTION_LIMIT, clean=escape, cut=drafts.cut_chars,
                          channel=f"a Slack section ({SECTION_LIMIT} characters)")
        return text, content_of(text)

    def preview_html(self, text: str):
        """Slack's mrkdwn rendered (bold, links, :emoji:), everything else inert."""
        from posters import previews

        return previews.slack_html(text)

    def plain_text(self, text: str) -> str:
        # What a person reads: no entities, the emoji themselves (Slack shows both forms alike).
        return emojize(unescape(text))

    def edited(self, content, plain):
        text = escape(plain)
        if len(text) > SECTION_LIMIT:
            raise DraftError(f"too long for a Slack section: {len(text):,} of {SECTION_LIMIT:,} characters "
                             "(with &, < and > escaped as Slack needs)")
        return text, content_of(text)

    def count(self, text: str) -> tuple[int, int]:
        return len(text), SECTION_LIMIT

    def payload_text(self, content) -> str:
        import json

        return f"text:\n{content['text']}\nblocks: {json.dumps(content['blocks'], ensure_ascii=False)}"

    def external_id_from_url(self, url: str) -> str:
        match = re.search(r"/archives/([A-Z0-9]+)/p(\d{10})(\d{6})", url)
        return f"{match.group(1)}/{match.group(2)}.{match.group(3)}" if match else url

    def make(self, settings, publisher):
        return SlackChannel(settings, publisher)


@registry.hookimpl
def pulse_channel_kinds():
    return [SlackKind()]


def make_client(token_env: str, key: str, base_url: str, publisher):
    base = base_url or SLACK_API
    allowed = tuple(publisher.allow_hosts_for_tests)
    check_url(base, allowed)
    # retry_handlers=[]: slack-sdk would otherwise resend after a connection error on its own,
    # which could post twice; retries are the publisher's, after it knows the post is not out.
    return _guarded_client_class()(token=secret(token_env, key), base_url=base.rstrip("/") + "/",
                                   timeout=publisher.timeout_seconds, retry_handlers=[], allowed_hosts=allowed)


def _origin(url: str) -> tuple:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _refused(error: EgressRefused) -> urllib.error.URLError:
    # As urllib's own connection failures are: the channel's caller reports it as one.
    return urllib.error.URLError(error)


_CLIENT_CLASS = None


def _guarded_client_class():
    """slack-sdk's WebClient whose urllib transport checks each request and redirect (made
    once, on first use: slack-sdk is imported only when a Slack channel is)."""
    global _CLIENT_CLASS
    if _CLIENT_CLASS is not None:
        return _CLIENT_CLASS
    import urllib.request

    from slack_sdk import WebClient

    if not callable(getattr(WebClient, "_perform_urllib_http_request_internal", None)):
        # Never fall back to an unguarded transport: fail loudly when slack-sdk moves it.
        raise RuntimeError("this slack-sdk has no WebClient._perform_urllib_http_request_internal: the egress "
                           "guard of posters/channels/slack.py must be brought up to date")

    class GuardedRedirects(urllib.request.HTTPRedirectHandler):
        def __init__(self, allowed_hosts: tuple[str, ...]):
            super().__init__()
            self.allowed_hosts = allowed_hosts

        def redirect_request(self, req, fp, code, msg, headers, newurl):
            try:
                check_url(newurl, self.allowed_hosts)
            except EgressRefused as error:
                fp.close()
                raise _refused(error) from None
            new = super().redirect_request(req, fp, code, msg, headers, newurl)
            if new is not None and _origin(newurl) != _origin(req.full_url):
                new.remove_header("Authorization")  # the bot token is for the host it was sent to
            return new

    class GuardedWebClient(WebClient):
        def __init__(self, *, allowed_hosts: tuple[str, ...] = (), **kwargs):
            super().__init__(**kwargs)
            self.allowed_hosts = tuple(allowed_hosts)
            self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self.ssl),
                                                       GuardedRedirects(self.allowed_hosts))

        # slack-sdk's one place where a urllib request is opened (BaseClient, 3.x): the same
        # work, through the guarded opener instead of urlopen's, which follows any redirect.
        def _perform_urllib_http_request_internal(self, url, req):
            try:
                check_url(url, self.allowed_hosts)
            except EgressRefused as error:
                raise _refused(error) from None
            resp = self._opener.open(req, timeout=self.timeout)
            if resp.headers.get_content_type() == "application/gzip":
                return {"status": resp.code, "headers": resp.headers, "body": resp.read()}
            charset = resp.headers.get_content_charset() or "utf-8"
            return {"status": resp.code, "headers": resp.headers, "body": resp.read().decode(charset)}

    _CLIENT_CLASS = GuardedWebClient
    return _CLIENT_CLASS


class SlackChannel(Channel):
    can_look_up = True

    def __init__(self, config, publisher):
        super().__init__(config, publisher)
        self.client = make_client(config.token_env, f"{config.key}.token_env", config.base_url, publisher)
        self._channel_id: str | None = None

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
            self._channel_id = self.id_of(self.config.channel)
        return self._channel_id

    def id_of(self, channel: str) -> str:
        """The id of a channel given as `#name` or id."""
        name = channel.lstrip("#")
        if _CHANNEL_ID.fullmatch(name):
            return name
        for found in self._channels():
            if found.get("name") == name:
                return found["id"]
        raise SendError("permanent", f"Slack channel {channel} not found (is the bot in it?)")

    def account_name(self) -> str | None:
        """`#name` of the posts' channel (asked only when the config gives its id)."""
        name = self.config.channel.lstrip("#")
        if not _CHANNEL_ID.fullmatch(name):
            return "#" + name
        return next((f"#{c['name']}" for c in self._channels() if c.get("id") == name and c.get("name")), None)

    def _channels(self):
        return self._pages(lambda cursor: self.client.conversations_list(
            types="public_channel,private_channel", exclude_archived=True, cursor=cursor, limit=1000), key="channels")

    def find_marked(self, channel: str, event_type: str, marker: str) -> Sent | None:
        """The message of `channel`'s recent history whose metadata carries `marker`."""
        channel_id = self.id_of(channel)
        for message in self._pages(lambda cursor: self.client.conversations_history(
                channel=channel_id, include_all_metadata=True, cursor=cursor, limit=200)):
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == event_type and (metadata.get("event_payload") or {}).get("marker") == marker:
                return _sent(channel_id, message["ts"])
        return None

    def call(self, call, method: str):
        """A Web API call with its failures as `SendError`s (retry, permanent, unknown)."""
        return self._call(call, method)

    def _pages(self, call, key: str = "messages", limit_pages: int = 20):
        cursor = None
        for _ in range(limit_pages):
            answer = self._call(lambda cursor=cursor: call(cursor), "history")
            yield from answer.get(key, [])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    def _call(self, call, method: str):
        from slack_sdk.errors import SlackApiError

        try:
            return call()
        except SlackApiError as error:
            raise slack_failure(error, method) from None
        except TimeoutError:
            raise SendError("unknown", f"Slack {method}: no answer in time (the message may be out)") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, (ConnectionRefusedError, socket.gaierror)):
                raise SendError("retry", f"Slack {method}: could not connect ({error.reason})") from None
            if isinstance(error.reason, (TimeoutError, socket.timeout)):
                raise SendError("unknown", f"Slack {method}: no answer in time (the message may be out)") from None
            raise SendError("unknown", f"Slack {method}: connection failed ({error.reason})") from None
        except ConnectionError as error:
            raise SendError("unknown", f"Slack {method}: connection lost ({type(error).__name__})") from None


def slack_failure(error, method: str) -> SendError:
    response = error.response
    status = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    code = data.get("error") or f"HTTP {status}"
    message = f"Slack {method}: {code}"
    if status == 429 or code == "ratelimited":
        return SendError("retry", message, retry_after=retry_after_header(response.headers, cap=THROTTLE_CAP),
                         throttled=True)
    if code in AUTH_ERRORS or status in (401, 403):
        return SendError("permanent", message + " (check the bot token)")
    if status >= 500 or code in SERVER_ERRORS:
        # Slack may have posted before failing; the marker lookup settles it before any resend.
        return SendError("unknown", message)
    return SendError("permanent", message)


def _sent(channel_id: str, ts: str) -> Sent:
    return Sent(f"{channel_id}/{ts}", f"https://slack.com/archives/{channel_id}/p{ts.replace('.', '')}")

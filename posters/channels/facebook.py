"""Facebook: the `facebook` channel kind (its settings, the Page post and its link) and its
client, facebook-sdk's `GraphAPI.put_object(page_id, "feed", message=, link=)`.

facebook-sdk's last release (3.1.0) only accepts Graph API versions up to 3.1, long retired by
Facebook. Without forking it: construct `GraphAPI(version="3.1")`, which passes its check, then
set `graph.version` to the configured one (`graph_version`, default v21.0): the library builds
every URL as `FACEBOOK_GRAPH_URL + self.version + "/..."` (facebook/__init__.py, `request` and
`put_object`), so the attribute is all that decides the version on the wire. The configured value
is validated as `vNN.N` by `FacebookSettings`.

It gets a `requests.Session` from `guarded_session` (allowlist, timeout, test re-targeting) and
the timeout itself too. A response hook keeps the last HTTP status and headers, which
facebook-sdk's `GraphAPIError` does not carry, to tell a 429/5xx from a refusal.
"""

from __future__ import annotations

import json
import re

from pydantic import field_validator

from pulse.core import registry
from pulse.core.config import secret
from pulse.core.egress import EgressRefused, guarded_session
from pulse.core.retry import retry_after_header

from posters import drafts
from posters.channels.base import THROTTLE_CAP, Channel, ChannelKind, ChannelSettings, SendError, Sent, requests_failure

MESSAGE_LIMIT = 63_206

AUTH_CODES = {102, 104, 190, 200, 10}
RATE_CODES = {4, 17, 32, 613, 80001}
TRANSIENT_CODES = {1, 2}
DUPLICATE_CODES = {506}


class FacebookSettings(ChannelSettings):
    """`[cities.SLUG.channels.facebook]`: a Page and its Page access token."""

    what = "a facebook channel"
    page_id: str
    page_token_env: str
    graph_version: str = "v21.0"

    @field_validator("graph_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.fullmatch(r"v\d{1,2}\.\d{1,2}", value):
            raise ValueError(f"expected a Graph API version like \"v21.0\", got {value!r}")
        return value


class FacebookKind(ChannelKind):
    name = "facebook"
    label = "Facebook"
    settings = FacebookSettings
    default_rate_per_minute = 10.0
    hosts = ("graph.facebook.com",)
    templates = {
        "announce": "{title}\n🗓 {weekday} {date}, {time}\n📍 {venue}",
        "update": "Update: {title}\n{changes}\n🗓 {weekday} {date}, {time}\n📍 {venue}",
        "cancel": "Cancelled: {title} ({weekday} {date})\n{reason}",
    }

    max_edit_chars = MESSAGE_LIMIT

    def account(self, settings) -> str:
        return settings.page_id

    def where(self, settings, name=None) -> str:
        return f"Facebook Page “{name}”" if name else f"Facebook Page {settings.page_id}"

    def draft(self, settings, post_kind, meetup, changes=""):
        text = drafts.fit(self.template(settings, post_kind), drafts.fields(meetup, changes),
                          fits=lambda t: len(t) <= MESSAGE_LIMIT, clean=lambda v: v, cut=drafts.cut_chars,
                          channel="Facebook")
        return text, {"message": text, "link": meetup.url}

    def edited(self, content, plain):
        return plain, {**content, "message": plain}

    def count(self, text: str) -> tuple[int, int]:
        return len(text), MESSAGE_LIMIT

    def measure(self, text: str) -> None:
        return None

    def payload_text(self, content) -> str:
        return f"message:\n{content['message']}\nlink: {content.get('link') or '(none)'}"

    def external_id_from_url(self, url: str) -> str:
        match = re.search(r"facebook\.com/(\d+_\d+)", url)
        return match.group(1) if match else url

    def make(self, settings, publisher):
        return FacebookChannel(settings, publisher)


@registry.hookimpl
def pulse_channel_kinds():
    return [FacebookKind()]


class FacebookChannel(Channel):
    def __init__(self, config, publisher):
        import facebook

        super().__init__(config, publisher)
        session = guarded_session(timeout=publisher.timeout_seconds, extra_hosts=publisher.allow_hosts_for_tests,
                                  base_url=config.base_url)
        self._last: dict = {}
        session.hooks["response"].append(self._remember)
        self.graph = facebook.GraphAPI(access_token=secret(config.page_token_env, f"{config.key}.page_token_env"),
                                       timeout=publisher.timeout_seconds, version="3.1", session=session)
        self.graph.version = config.graph_version  # see the module's docstring

    def _remember(self, response, *args, **kwargs):
        self._last = {"status": response.status_code, "headers": dict(response.headers)}
        return response

    def send(self, post, parent=None) -> Sent:
        import facebook
        import requests

        data = {"message": post.content["message"]}
        if post.content.get("link"):
            data["link"] = post.content["link"]
        self._last = {}
        try:
            answer = self.graph.put_object(self.config.page_id, "feed", **data)
        except facebook.GraphAPIError as error:
            raise self._failure(error) from None
        except EgressRefused as error:
            raise SendError("permanent", str(error)) from None
        except requests.RequestException as error:
            raise requests_failure(error, "Facebook") from None
        post_id = str(answer["id"])
        return Sent(post_id, f"https://www.facebook.com/{post_id}")

    def account_name(self) -> str | None:
        """The Page's name (GET /{page-id}?fields=name)."""
        import facebook
        import requests

        try:
            answer = self.graph.get_object(self.config.page_id, fields="name")
        except (facebook.GraphAPIError, requests.RequestException, EgressRefused):
            return None
        name = answer.get("name") if isinstance(answer, dict) else None
        return str(name) if name else None

    def _failure(self, error) -> SendError:
        status = self._last.get("status", 0)
        headers = self._last.get("headers", {})
        code = getattr(error, "code", None)
        message = f"Facebook: {error.message if hasattr(error, 'message') else error}"
        if status == 429 or code in RATE_CODES:
            return SendError("retry", message, retry_after=retry_after_header(headers, cap=THROTTLE_CAP) or _usage_wait(headers),
                             throttled=True)
        if status >= 500 or code in TRANSIENT_CODES:
            return SendError("retry", message)
        if code in AUTH_CODES or status == 401:
            return SendError("permanent", message + " (check the page token)")
        return SendError("permanent", message, duplicate=code in DUPLICATE_CODES)


def _usage_wait(headers) -> float | None:
    """Seconds until Facebook lets the page post again, from its business-use-case usage header."""
    raw = headers.get("X-Business-Use-Case-Usage") or headers.get("x-business-use-case-usage")
    try:
        usage = json.loads(raw) if raw else {}
        minutes = max(entry.get("estimated_time_to_regain_access", 0)
                      for entries in usage.values() for entry in entries)
        return minutes * 60.0 if minutes else None
    except (ValueError, TypeError, AttributeError):
        return None

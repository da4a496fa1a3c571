"""What a channel kind is: its `[cities.SLUG.channels.KIND]` table, how it words a post, and how
it sends one, exactly once.

A channel kind (`slack`, `x`, `facebook`) is one module of this package holding a
`ChannelKind` subclass (its settings model, defaults, limits, drafting, preview, `where`) and
a `Channel` subclass (the API client). The publisher, the queue, the CLI and the Slack buttons
only ever talk to these two interfaces.

Each channel turns its library's errors into a `SendError` with one of three outcomes, which
is all the publisher needs to decide:

* `retry`: the post certainly did not go out (429, 5xx, could not connect): try again later,
  not before `retry_after` seconds when the API said so (`throttled`: the API said "later");
* `permanent`: it will not go out by trying again (auth, duplicate content, rejected content):
  fail at once with the API's message;
* `unknown`: the request may have reached the API (a read timeout, a connection cut after
  sending): the post may be out. Whether a retry is safe is the channel's call
  (`retry_unknown`, `can_look_up`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from pulse.core.config import Settings
from pulse.core.instants import parse_instant

if TYPE_CHECKING:
    from posters.drafts import Meetup
    from posters.settings import PublisherSettings

TEMPLATE_FIELDS = ("title", "date", "time", "weekday", "venue", "url", "city", "city_name", "reason",
                   "description", "starts_at", "changes")
"""Placeholders a post template may use, written `{name}`; `{{` and `}}` are literal braces.
`{changes}` is what an update is about ("New time and venue"), empty in other posts."""
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def check_template(template: str) -> str:
    """A template is text with `{field}` placeholders from TEMPLATE_FIELDS, nothing that could run."""
    for match in _PLACEHOLDER.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise ValueError(f"unmatched {token!r}; write {{{{ or }}}} for a literal brace")
        if name not in TEMPLATE_FIELDS:
            close = difflib.get_close_matches(name, TEMPLATE_FIELDS, n=1)
            hint = f"did you mean {{{close[0]}}}?" if close else "allowed: " + ", ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS)
            raise ValueError(f"unknown placeholder {{{name}}}; {hint}")
    return template


class ChannelSettings(Settings):
    """What every `[cities.SLUG.channels.KIND]` table has; each kind adds its own keys."""

    city: str
    kind: str
    mode: Literal["auto", "approval"] = "approval"
    """`auto`: publish without asking; `approval`: only after a person approved the wording."""
    post: str = "on_create"
    """`on_create`: as soon as the meetup is created; `days_before:N`: N days before it starts."""
    enabled_since: str = ""
    """RFC 3339 instant; meetups created before it are never posted. Empty: the first time Pulse saw this channel."""
    rate_per_minute: float = Field(0.0, ge=0)
    """Posts per minute for this channel's account (0: the kind's default)."""
    template: str = ""
    update_template: str = ""
    cancel_template: str = ""
    """Post texts with `{title}`, `{date}`, ... placeholders; empty: the shipped defaults."""
    base_url: str = ""
    """The API's address; only for tests (its host must be in plugin.json or publisher.allow_hosts_for_tests)."""

    @field_validator("post")
    @classmethod
    def _post(cls, value: str) -> str:
        if not re.fullmatch(r"on_create|days_before:\d{1,3}", value):
            raise ValueError(f"expected \"on_create\" or \"days_before:N\" (e.g. \"days_before:3\"), got {value!r}")
        return value

    @field_validator("enabled_since")
    @classmethod
    def _since(cls, value: str) -> str:
        if value and parse_instant(value) is None:
            raise ValueError(f"expected an RFC 3339 instant with offset, e.g. \"2026-11-01T00:00:00Z\", got {value!r}")
        return value

    @field_validator("template", "update_template", "cancel_template")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if value and not re.match(r"https?://[^/?#]+", value):
            raise ValueError(f"expected an http(s) URL, got {value!r}; leave it out outside tests")
        return value

    @property
    def key(self) -> str:
        return f"cities.{self.city}.channels.{self.kind}"

    @property
    def days_before(self) -> int | None:
        return int(self.post.split(":", 1)[1]) if self.post.startswith("days_before:") else None

    @property
    def channel_kind(self) -> ChannelKind:
        from posters.channels import kind_of

        return kind_of(self.kind)

    @property
    def rate(self) -> float:
        return self.rate_per_minute or self.channel_kind.default_rate_per_minute

    @property
    def account(self) -> str:
        """Who the API counts a post against: posts of channels sharing it share one rate limit."""
        return f"{self.kind}:{self.channel_kind.account(self)}"


THROTTLE_CAP = 24 * 3600.0
"""The longest throttling wait believed from an API (the post waits that long, then tries again)."""


@dataclass(frozen=True)
class Sent:
    external_id: str
    url: str


class SendError(Exception):
    def __init__(self, outcome: str, message: str, *, retry_after: float | None = None, duplicate: bool = False,
                 throttled: bool = False):
        super().__init__(message)
        assert outcome in ("retry", "permanent", "unknown")
        self.outcome = outcome
        self.message = message
        self.retry_after = retry_after
        self.duplicate = duplicate
        self.throttled = throttled


class Channel:
    """A channel's API client, built from its settings (secrets read from the environment)."""

    can_look_up = False
    """Whether `find_sent` can tell if a post whose outcome is unknown went out."""
    retry_unknown = False
    """Whether resending after an unknown outcome is safe (the API refuses the same post twice)."""

    def __init__(self, config: ChannelSettings, publisher: PublisherSettings):
        self.config = config
        self.publisher = publisher

    def send(self, post, parent=None) -> Sent:
        raise NotImplementedError

    def find_sent(self, post, parent=None) -> Sent | None:
        raise NotImplementedError

    def account_name(self) -> str | None:
        """The account's name as the API calls it (a channel's name, an X handle, a Page's
        name), asked once and cached by the publisher; None when the API does not say."""
        return None


class ChannelKind:
    """One kind of channel; its module registers an instance through `pulse_channel_kinds`."""

    name: ClassVar[str]
    label: ClassVar[str]
    """How people call it: "Slack", "X", "Facebook"."""
    settings: ClassVar[type[ChannelSettings]]
    default_rate_per_minute: ClassVar[float]
    hosts: ClassVar[tuple[str, ...]]
    """The API hosts its client connects to (each must be covered by the manifest's external_domains)."""
    templates: ClassVar[dict[str, str]]
    """The shipped wording of each post kind (announce, update, cancel)."""
    max_edit_chars: ClassVar[int]
    """Characters a person's edit may have at most; longer is refused before it is measured."""

    def template(self, settings: ChannelSettings, post_kind: str) -> str:
        configured = {"announce": settings.template, "update": settings.update_template,
                      "cancel": settings.cancel_template}[post_kind]
        return configured or self.templates[post_kind]

    def account(self, settings: ChannelSettings) -> str:
        """The account a post is counted against (for rate limits), unique within this kind."""
        raise NotImplementedError

    def where(self, settings: ChannelSettings, name: str | None = None) -> str:
        """Where its posts go, in the words of the channel ("Slack #meetups", "X @pulse_syd"):
        `name` is the account's name as the API gave it (`Channel.account_name`), when known."""
        raise NotImplementedError

    def draft(self, settings: ChannelSettings, post_kind: str, meetup: Meetup, changes: str = "") -> tuple[str, dict]:
        """(text, content): the words and the whole payload of a post about `meetup`."""
        raise NotImplementedError

    def plain_text(self, text: str) -> str:
        """The words of a post as a person reads and edits them (no channel escaping)."""
        return text

    def preview_html(self, text: str):
        """The post's words as the channel will show them, as safe HTML for the queue."""
        from posters import previews

        return previews.plain_html(text)

    def edited(self, content: dict, plain: str) -> tuple[str, dict]:
        """(text, payload) after a person rewrote the words in plain text (the channel's escaping
        is done here); DraftError when the channel cannot take them."""
        raise NotImplementedError

    def count(self, text: str) -> tuple[int, int]:
        """(length as the channel counts it, the most it takes) of a post's text as sent."""
        return len(text), self.max_edit_chars

    def measure(self, text: str) -> str | None:
        """A note on the text's length as the channel counts it, when that matters ("120/280 as X counts")."""
        return None

    def payload_text(self, content: dict) -> str:
        """Exactly what would be sent: the payload's fields as the API gets them (for --dry-run)."""
        raise NotImplementedError

    def external_id_from_url(self, url: str) -> str:
        """The id follow-ups need (a thread, a reply-to) from a post's link, when the link says it."""
        return url

    def make(self, settings: ChannelSettings, publisher: PublisherSettings) -> Channel:
        raise NotImplementedError


def requests_failure(error: Any, what: str) -> SendError:
    """A `requests` exception → retry when nothing was sent, unknown when the request may have arrived."""
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return SendError("retry", f"{what}: could not connect in time")
    if isinstance(error, requests.exceptions.ReadTimeout):
        return SendError("unknown", f"{what}: no answer in time (the post may be out)")
    reason = getattr(error.args[0], "reason", None) if error.args else None
    if isinstance(reason, NewConnectionError) or "Failed to establish a new connection" in str(error):
        return SendError("retry", f"{what}: could not connect ({type(reason or error).__name__})")
    return SendError("unknown", f"{what}: connection lost ({type(error).__name__}); the post may be out")

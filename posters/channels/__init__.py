"""The three channels behind one small interface: send a post once, say what went wrong.

Each channel turns its library's errors into a `SendError` with one of three outcomes, which
is all the publisher needs to decide:

* `retry`: the post certainly did not go out (429, 5xx, could not connect): try again later,
  not before `retry_after` seconds when the API said so;
* `permanent`: it will not go out by trying again (auth, duplicate content, rejected content):
  fail at once with the API's message;
* `unknown`: the request may have reached the API (a read timeout, a connection cut after
  sending): the post may be out. Whether a retry is safe is the channel's call
  (`retry_unknown`, `can_look_up`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pulse.config import ChannelConfig, PublisherConfig


@dataclass(frozen=True)
class Sent:
    external_id: str
    url: str


class SendError(Exception):
    def __init__(self, outcome: str, message: str, *, retry_after: float | None = None, duplicate: bool = False):
        super().__init__(message)
        assert outcome in ("retry", "permanent", "unknown")
        self.outcome = outcome
        self.message = message
        self.retry_after = retry_after
        self.duplicate = duplicate


class Channel:
    kind = ""
    can_look_up = False
    """Whether `find_sent` can tell if a post whose outcome is unknown went out."""
    retry_unknown = False
    """Whether resending after an unknown outcome is safe (the API refuses the same post twice)."""

    def __init__(self, config: ChannelConfig, publisher: PublisherConfig):
        self.config = config
        self.publisher = publisher

    def send(self, post, parent=None) -> Sent:
        raise NotImplementedError

    def find_sent(self, post, parent=None) -> Sent | None:
        raise NotImplementedError

    def where(self, post, parent=None) -> str:
        """Where `post` would go, for --dry-run."""
        raise NotImplementedError


def make_channel(config: ChannelConfig, publisher: PublisherConfig) -> Channel:
    if config.kind == "slack":
        from posters.channels.slack import SlackChannel
        return SlackChannel(config, publisher)
    if config.kind == "x":
        from posters.channels.x import XChannel
        return XChannel(config, publisher)
    from posters.channels.facebook import FacebookChannel
    return FacebookChannel(config, publisher)


def requests_failure(error, what: str) -> SendError:
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


def retry_after_header(headers) -> float | None:
    value = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    try:
        return max(float(value), 0.0) if value is not None else None
    except (TypeError, ValueError):
        return None

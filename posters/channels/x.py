"""X: the `x` channel kind (its settings, drafting to X's weighted 280) and its client, tweepy's
`Client.create_tweet` (OAuth 1.0a user context).

tweepy sends every request through `client.session`; it is replaced by `guarded_session`, whose
transport adapter refuses hosts outside plugin.json, sets the timeout tweepy never sets, and (in
tests) re-targets api.twitter.com to the fake server. Follow-ups reply to the announcement.

X refuses a tweet identical to a recent one ("duplicate content"); that makes a resend after an
unknown outcome safe: it either goes out (the first did not) or is refused as a duplicate (the
first did), and the publisher then asks a person to confirm.
"""

from __future__ import annotations

import re
import time

from pulse.core import registry
from pulse.core.config import secret
from pulse.core.egress import EgressRefused, guarded_session

from posters import drafts, x_length
from posters.channels.base import Channel, ChannelKind, ChannelSettings, SendError, Sent, requests_failure
from posters.drafts import DraftError


EDIT_MAX_CHARS = 10_000
"""An edit for X longer than this is refused before it is measured (X takes at most 280 as it counts)."""


class XSettings(ChannelSettings):
    """`[cities.SLUG.channels.x]`: the account's OAuth 1.0a user-context keys, each from the environment."""

    what = "an x channel"
    api_key_env: str
    api_secret_env: str
    access_token_env: str
    access_secret_env: str


class XKind(ChannelKind):
    name = "x"
    label = "X"
    settings = XSettings
    default_rate_per_minute = 2.0
    hosts = ("api.twitter.com", "api.x.com")
    templates = {
        "announce": "{title}\n🗓 {weekday} {date}, {time}\n📍 {venue}\n{url}",
        "update": "Update: {title}\n{changes}\n🗓 {weekday} {date}, {time}\n📍 {venue}\n{url}",
        "cancel": "Cancelled: {title} ({weekday} {date})\n{reason}\n{url}",
    }

    max_edit_chars = EDIT_MAX_CHARS
    """X counts a link as 23 however long it is, so a valid post can have more than 280 characters; not this many."""

    def account(self, settings) -> str:
        return settings.access_token_env

    def where(self, settings, name=None) -> str:
        return f"X {name}" if name else f"X (the account whose access token is in ${settings.access_token_env})"

    def draft(self, settings, post_kind, meetup, changes=""):
        # Characters X refuses outright never make it into a draft (which ones: x_length, as
        # twitter-text says; Slack and Facebook get them as they are).
        text = drafts.fit(self.template(settings, post_kind), drafts.fields(meetup, changes), fits=x_length.fits,
                          clean=x_length.without_invalid, cut=x_length.shorten, channel="X (280, as X counts)")
        return text, {"text": text}

    def edited(self, content, plain):
        # (drafts.edited has refused text over max_edit_chars before this measures anything)
        text = plain
        measured = x_length.measure(text)
        if measured.unsearched:
            run = measured.unsearched.strip()
            shown = run if len(run) <= 40 else run[:40] + "…"
            raise DraftError(f"Pulse cannot tell how long X counts {shown!r} ({len(run):,} characters without a space "
                             f"that X may take for a link): shorten it or add spaces")
        if measured.length > x_length.MAX_WEIGHTED_LENGTH:
            raise DraftError(f"too long for X: {'at least ' if measured.at_least else ''}{measured.length} of 280 "
                             f"as X counts (a URL counts 23, CJK and emoji 2)")
        if not x_length.is_valid(text):
            raise DraftError("X would refuse this text (invalid characters: U+FFFE, U+FEFF or U+FFFF)")
        return text, {"text": text}

    def count(self, text: str) -> tuple[int, int]:
        return x_length.weighted_length(text), x_length.MAX_WEIGHTED_LENGTH

    def measure(self, text: str) -> str:
        return f"{x_length.weighted_length(text)}/{x_length.MAX_WEIGHTED_LENGTH} as X counts"

    def payload_text(self, content) -> str:
        return f"text ({self.measure(content['text'])}):\n{content['text']}"

    def external_id_from_url(self, url: str) -> str:
        match = re.search(r"/status(?:es)?/(\d+)", url)
        return match.group(1) if match else url

    def make(self, settings, publisher):
        return XChannel(settings, publisher)


@registry.hookimpl
def pulse_channel_kinds():
    return [XKind()]


class XChannel(Channel):
    retry_unknown = True

    def __init__(self, config, publisher):
        import tweepy

        super().__init__(config, publisher)
        key = config.key
        self.client = tweepy.Client(
            consumer_key=secret(config.api_key_env, f"{key}.api_key_env"),
            consumer_secret=secret(config.api_secret_env, f"{key}.api_secret_env"),
            access_token=secret(config.access_token_env, f"{key}.access_token_env"),
            access_token_secret=secret(config.access_secret_env, f"{key}.access_secret_env"),
        )
        self.client.session = guarded_session(timeout=publisher.timeout_seconds,
                                              extra_hosts=publisher.allow_hosts_for_tests, base_url=config.base_url)

    def send(self, post, parent=None) -> Sent:
        import requests
        import tweepy

        kwargs = {"text": post.content["text"], "user_auth": True}
        if parent is not None and parent.external_id:
            kwargs["in_reply_to_tweet_id"] = parent.external_id
        try:
            answer = self.client.create_tweet(**kwargs)
        except tweepy.TooManyRequests as error:
            reset = error.response.headers.get("x-rate-limit-reset")
            wait = max(float(reset) - time.time(), 0.0) if reset and reset.isdigit() else None
            raise SendError("retry", _message(error), retry_after=wait, throttled=True) from None
        except tweepy.TwitterServerError as error:
            raise SendError("retry", _message(error)) from None
        except tweepy.Unauthorized as error:
            raise SendError("permanent", _message(error) + " (check the X keys and tokens)") from None
        except tweepy.HTTPException as error:
            duplicate = any("duplicate" in m.lower() for m in error.api_messages)
            raise SendError("permanent", _message(error), duplicate=duplicate) from None
        except EgressRefused as error:
            raise SendError("permanent", str(error)) from None
        except requests.RequestException as error:
            raise requests_failure(error, "X") from None
        tweet_id = str(answer.data["id"])
        return Sent(tweet_id, f"https://x.com/i/web/status/{tweet_id}")

    def account_name(self) -> str | None:
        """`@handle` of the account the keys belong to (GET /2/users/me)."""
        import requests
        import tweepy

        try:
            answer = self.client.get_me(user_auth=True)
        except (tweepy.TweepyException, requests.RequestException, EgressRefused):
            return None
        username = getattr(answer.data, "username", None) if answer.data is not None else None
        return f"@{username}" if username else None


def _message(error) -> str:
    return "X: " + " ".join(str(error).split())

"""X through tweepy's `Client.create_tweet` (OAuth 1.0a user context).

tweepy sends every request through `client.session`; it is replaced by `guarded_session`, whose
transport adapter refuses hosts outside plugin.json, sets the timeout tweepy never sets, and (in
tests) re-targets api.twitter.com to the fake server. Follow-ups reply to the announcement.

X refuses a tweet identical to a recent one ("duplicate content"); that makes a resend after an
unknown outcome safe: it either goes out (the first did not) or is refused as a duplicate (the
first did), and the publisher then asks a person to confirm.
"""

from __future__ import annotations

import time

import requests
import tweepy

from pulse.config import secret
from posters.allowlist import EgressRefused, guarded_session
from posters.channels import Channel, SendError, Sent, requests_failure


class XChannel(Channel):
    kind = "x"
    retry_unknown = True

    def __init__(self, config, publisher):
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

    def where(self, post, parent=None) -> str:
        return f"X account of {self.config.access_token_env}" + (" (reply)" if parent is not None else "")

    def send(self, post, parent=None) -> Sent:
        kwargs = {"text": post.content["text"], "user_auth": True}
        if parent is not None and parent.external_id:
            kwargs["in_reply_to_tweet_id"] = parent.external_id
        try:
            answer = self.client.create_tweet(**kwargs)
        except tweepy.TooManyRequests as error:
            reset = error.response.headers.get("x-rate-limit-reset")
            wait = max(float(reset) - time.time(), 0.0) if reset and reset.isdigit() else None
            raise SendError("retry", _message(error), retry_after=wait) from None
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


def _message(error: tweepy.HTTPException) -> str:
    return "X: " + " ".join(str(error).split())

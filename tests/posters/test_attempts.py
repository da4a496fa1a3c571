"""The rule for a failed send (`posters.attempts`), by hand: which step each kind of failure
leads to on each kind of channel, and the waits, computed from the documented policy (attempt n
waits base * 2**(n-1) * (1 + 0.25 * random), at most the cap; the API's own wait instead when
it gave one) with `[publisher]`'s defaults: base 1 s, cap 60 s, 5 attempts, 120 s a run."""

from __future__ import annotations

import pytest

from posters.attempts import Next, Wait, after_failure, retry_wait, throttled_wait
from posters.channels import SendError
from posters.settings import PublisherSettings


class Channel:
    def __init__(self, *, can_look_up=False, retry_unknown=False):
        self.can_look_up, self.retry_unknown = can_look_up, retry_unknown


SLACK, X, FACEBOOK = Channel(can_look_up=True), Channel(retry_unknown=True), Channel()


class Half:
    """A random source that always gives 0.5: the jitter stretches a wait by an eighth."""

    def random(self) -> float:
        return 0.5


@pytest.mark.parametrize(("failure", "channel", "resent_unknown", "expected"), [
    (SendError("retry", "429", throttled=True, retry_after=30), FACEBOOK, False, Next.THROTTLED),
    (SendError("retry", "429", throttled=True), SLACK, True, Next.THROTTLED),
    (SendError("retry", "503"), FACEBOOK, False, Next.RETRY),
    (SendError("permanent", "invalid_auth"), SLACK, False, Next.FAIL),
    (SendError("permanent", "duplicate", duplicate=True), X, False, Next.FAIL),
    (SendError("permanent", "duplicate", duplicate=True), X, True, Next.ATTENTION),
    (SendError("permanent", "rejected"), X, True, Next.FAIL),
    (SendError("unknown", "read timeout"), SLACK, False, Next.LOOK_UP),
    (SendError("unknown", "read timeout"), X, False, Next.RETRY),
    (SendError("unknown", "read timeout"), FACEBOOK, False, Next.ATTENTION),
])
def test_each_failure_leads_to_its_step(failure, channel, resent_unknown, expected):
    assert after_failure(failure, channel, resent_unknown=resent_unknown) is expected


def test_retry_waits_back_off_then_give_up():
    policy = PublisherSettings()
    assert retry_wait(1, None, policy, Half()) == Wait(1.125, True)
    assert retry_wait(3, None, policy, Half()) == Wait(4.5, True)
    assert retry_wait(4, 0.0, policy, Half()) == Wait(0.0, True)        # "now" is not "not said"
    assert retry_wait(2, 200.0, policy, Half()) == Wait(200.0, False)   # longer than a run waits
    assert retry_wait(5, None, policy, Half()) is None                  # the fifth attempt was the last
    assert retry_wait(1, None, PublisherSettings(max_attempts=1), Half()) is None


def test_throttled_waits_count_the_run_not_the_attempts():
    policy = PublisherSettings()
    assert throttled_wait(1, 0.0, 30.0, policy, Half()) == Wait(30.0, True)
    assert throttled_wait(4, 90.0, 30.0, policy, Half()) == Wait(30.0, True)    # 120 s in all: still this run
    assert throttled_wait(2, 100.0, 30.0, policy, Half()) == Wait(30.0, False)  # 130 s: a later run
    assert throttled_wait(2, 0.0, None, policy, Half()) == Wait(2.25, True)
    assert throttled_wait(3, 3.4, None, policy, Half()) == Wait(4.5, False)     # a third try untold: later

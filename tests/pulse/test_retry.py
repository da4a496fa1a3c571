"""The one retry policy (`pulse.core.retry`): the feed, the publisher and the notices wait what
it says. Expected waits are worked out by hand from the documented rule."""

from __future__ import annotations

import pytest

from pulse.core.retry import Backoff


def _policy(random_value: float = 0.0) -> Backoff:
    return Backoff(base=0.5, cap=60.0, jitter=0.25, random=lambda: random_value)


@pytest.mark.parametrize(("attempt", "expected"), [(1, 0.5), (2, 1.0), (3, 2.0), (8, 60.0), (30, 60.0)])
def test_attempt_n_waits_base_times_two_to_the_n_minus_one_at_most_the_cap(attempt, expected):
    assert _policy().wait(attempt) == expected


def test_the_jitter_stretches_a_wait_by_at_most_its_fraction():
    assert _policy(random_value=1.0).wait(3) == 2.5  # 2.0 * (1 + 0.25)


def test_what_the_server_asked_for_is_the_wait_instead():
    assert _policy().after(3, 7.0) == 7.0
    assert _policy().after(3, 0.0) == 0.0  # "now" is an answer, not the absence of one
    assert _policy().after(3, None) == 2.0

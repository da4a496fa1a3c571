"""Reading one batch ahead: same items in the same order, errors where they happened, clean stops."""

from __future__ import annotations

import threading

import pytest

from jobs.ingest.prefetch import prefetched


def test_items_in_order_produced_in_another_thread():
    threads = []

    def numbers():
        for i in range(100):
            threads.append(threading.current_thread().name)
            yield i

    assert list(prefetched(numbers())) == list(range(100))
    assert set(threads) == {"pulse-prefetch"}


def test_an_error_arrives_after_the_items_before_it():
    def failing():
        yield 1
        yield 2
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetched(failing()):
            seen.append(item)
    assert seen == [1, 2]


def test_stopping_early_closes_the_source_and_reads_at_most_one_ahead():
    produced, closed = [], threading.Event()

    def source():
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    for item in prefetched(source()):
        if item == 3:
            break
    assert closed.wait(5)
    assert max(produced) <= 5  # item 3 taken, one waiting in the hand-off, one being offered

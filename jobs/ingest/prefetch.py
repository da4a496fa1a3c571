"""Read the next batch while the current one is validated and committed.

DuckDB releases Python's lock while it runs a query, so a source's reading, splitting and
decoding (or its HTTP and Postgres round trips) can overlap the loader's work on the previous
batch. One batch ahead is enough to keep both busy, and bounds the memory it costs: the next
batch is read only once the one before it has been taken, so no more than `ahead` batches wait
besides the one being committed (a batch is up to `ingest.batch_bytes` of text).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_ITEM, _END, _ERROR = "item", "end", "error"


def prefetched(items: Iterable[T], ahead: int = 1) -> Iterator[T]:
    """Yield `items` in order, producing up to `ahead` of them in a background thread."""
    source = iter(items)
    handoff: queue.Queue = queue.Queue()
    slots = threading.Semaphore(ahead)  # one per item produced and not yet taken
    stop = threading.Event()

    def slot() -> bool:
        while not stop.is_set():
            if slots.acquire(timeout=0.1):
                return True
        return False

    def produce() -> None:
        try:
            while slot():
                try:
                    item = next(source)
                except StopIteration:
                    handoff.put((_END, None))
                    return
                handoff.put((_ITEM, item))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            handoff.put((_ERROR, error))
        finally:
            close = getattr(source, "close", None)
            if close:
                close()  # the source's own clean-up (files, connections), in its own thread

    worker = threading.Thread(target=produce, name="pulse-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == _END:
                return
            if kind == _ERROR:
                raise value
            slots.release()  # taken: the next one may be read while this one is committed
            yield value
    finally:
        stop.set()
        worker.join()

"""Read the next batch while the current one is validated and committed.

DuckDB releases Python's lock while it runs a query, so a source's reading, splitting and
decoding (or its HTTP and Postgres round trips) can overlap the loader's work on the previous
batch. One batch ahead is enough to keep both busy, and bounds the memory it costs.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_ITEM, _END, _ERROR = "item", "end", "error"


def prefetched(items: Iterable[T], ahead: int = 1) -> Iterator[T]:
    """Yield `items` in order, producing up to `ahead` of them in a background thread."""
    source = iter(items)
    handoff: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def offer(message) -> bool:
        while not stop.is_set():
            try:
                handoff.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not offer((_ITEM, item)):
                    break
            else:
                offer((_END, None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            offer((_ERROR, error))
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
            yield value
    finally:
        stop.set()
        worker.join()

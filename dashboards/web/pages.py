"""The figures behind the web pages: computed once per snapshot, kept in a cache, and worked
out ahead of the first visitor by a background warmer.

Where they are computed: a page's figures are a few dozen small DuckDB queries turned into
pandas frames. Run from many threads of one process, DuckDB (which releases the GIL) and pandas
(which holds it) hand the GIL back and forth so often that eight threads get less done than
one. So with `workers` > 0 they are computed in a pool of worker processes (`compute.py`),
leaving the web process's GIL to the threads that render and send pages; with 0 (tests) in
the web process, one at a time. The cache makes repeat views cost only the template.

Why a cache is never stale: a snapshot never changes (a new one is a new file), so results are
keyed by the snapshot's version. "Meetups held" counts meetups started before the snapshot was
taken (`as_of`), which is also what the figures' check-ins cover; so a result does not depend on
the clock beyond the window's dates.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime

from dashboards import data as data_module
from dashboards.ranges import PERIODS, PRESETS, Choice
from dashboards.snapshot import Freshness, SnapshotReader
from dashboards.web import compute as compute_module

# How long a visitor waits for a page's figures before the request fails.
COMPUTE_TIMEOUT_SECONDS = 120


class Cache:
    """A thread-safe LRU of computed results."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return True, self._items[key]
        return False, None

    def put(self, key, value) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def as_of(now: datetime, freshness: Freshness) -> datetime:
    """The instant the figures describe: when the snapshot was taken (or now, if earlier)."""
    return min(now, freshness.snapshot_at)


class PageData:
    def __init__(self, reader: SnapshotReader, clock: Callable[[], datetime], cache_size: int, workers: int = 0):
        self.reader = reader
        self.clock = clock
        self.cache = Cache(cache_size)
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._compute = threading.Lock()      # in-process computing: one at a time
        self._inflight: dict = {}             # key -> Future, so a page is computed once
        self._inflight_lock = threading.Lock()
        self._waiting = 0                     # visitors waiting for figures (the warmer yields)
        self._cities: tuple | None = None
        self.warmed_version = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- computing ---------------------------------------------------------------------------

    def pool(self) -> ProcessPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                # spawn, not fork: the web process has threads (and DuckDB) that fork would copy mid-flight.
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=compute_module.watch_parent)
                for _ in range(self.workers):
                    self._pool.submit(compute_module.ready)
            return self._pool

    def _run_task(self, function, *args):
        if self.workers <= 0:
            with self._compute:
                return function(*args)
        try:
            return self.pool().submit(function, *args).result(timeout=COMPUTE_TIMEOUT_SECONDS)
        except BrokenProcessPool:
            with self._pool_lock:
                self._pool = None  # a worker died (killed, out of memory): start a new pool next time
            raise

    def _get(self, key, function, *args, background: bool = False):
        found, value = self.cache.peek(key)
        if found:
            return value
        with self._inflight_lock:
            future = self._inflight.get(key)
            owner = future is None
            if owner:
                future = self._inflight[key] = Future()
            if not background:
                self._waiting += 1
        try:
            if not owner:
                return future.result(timeout=COMPUTE_TIMEOUT_SECONDS)
            try:
                value = self._run_task(function, *args)
            except BaseException as error:
                future.set_exception(error)
                raise
            self.cache.put(key, value)
            future.set_result(value)
            return value
        finally:
            with self._inflight_lock:
                if owner:
                    self._inflight.pop(key, None)
                if not background:
                    self._waiting -= 1

    def cities(self, con, version) -> list[data_module.City]:
        """Every city of the snapshot (kept whatever the cache size: every request needs it)."""
        held = self._cities
        if held is None or held[0] != version:
            held = self._cities = (version, data_module.cities(con))
        return held[1]

    def city(self, con, version, freshness: Freshness, city: data_module.City, choice: Choice, *,
             background: bool = False):
        """(CityData, figure JSON by name) of a city for a choice."""
        moment = as_of(self.clock(), freshness)
        window = data_module.city_window(city, choice, self.clock())
        key = (version, "city", city.slug, window.start, window.end, window.period, moment)
        return self._get(key, compute_module.city_page, str(self.reader.path), version, city, window, moment,
                         background=background)

    def overview(self, con, version, freshness: Freshness, choice: Choice, *,
                 background: bool = False) -> list[data_module.OverviewRow]:
        """Every city's overview row for a choice (the caller keeps those the person may see)."""
        now = self.clock()
        moment = as_of(now, freshness)
        cities = self.cities(con, version)
        # Keyed by each city's dates: a preset's dates move at each city's own midnight.
        windows = tuple((c.slug, w.start, w.end) for c in cities for w in [data_module.city_window(c, choice, now)])
        key = (version, "overview", choice.period, windows, moment)
        return self._get(key, compute_module.overview, str(self.reader.path), version, cities, choice, now, moment,
                         background=background)

    # --- warming ahead of visitors ------------------------------------------------------------

    def warm_once(self) -> int:
        """Compute the overview and every city's preset pages (the default first) for the current
        snapshot, giving way to visitors; returns how many were computed."""
        done = 0
        with self.reader.cursor() as (con, version, freshness):
            if con is None or not freshness.built:
                return 0
            cities = self.cities(con, version)
            default = Choice()
            choices = [default] + [Choice(r, None, None, p) for p in PERIODS for r in PRESETS
                                   if Choice(r, None, None, p) != default]
            for choice in choices:
                # The overview first: it is where an admin lands.
                self.overview(con, version, freshness, choice, background=True)
                for city in cities:
                    if self._stop.is_set() or self.reader.version() != version:
                        return done
                    while self._waiting and not self._stop.is_set():
                        self._stop.wait(0.01)  # visitors first
                    self.city(con, version, freshness, city, choice, background=True)
                    done += 1
        return done

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            version = self.reader.version()
            if version is not None and version != self.warmed_version:
                with contextlib.suppress(Exception):  # warming is an optimisation; pages compute on demand
                    self.warm_once()
                self.warmed_version = version
            self._stop.wait(interval)

    @property
    def warming(self) -> bool:
        """Whether the background warmer has been started."""
        return self._thread is not None

    @property
    def warm(self) -> bool:
        """Whether the current snapshot's preset pages have all been computed ahead."""
        return self.warmed_version is not None and self.warmed_version == self.reader.version()

    def start_warming(self, interval: float = 1.0) -> None:
        self._thread = threading.Thread(target=self._run, args=(interval,), name="pulse-warm", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None

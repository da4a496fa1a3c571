"""The exporter's files: the stream written as the platform's exporter would, one NDJSON file per
arrival month, with redeliveries, dirty lines, blank lines and events of unknown types mixed in."""

from __future__ import annotations

import gc
import heapq
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pulse.demo.clock import DAY_MS, date_str, to_ms
from pulse.demo.dirty import DIRTY_KINDS, UNKNOWN_TYPES, conflicting_copy, dirty_line, unknown_type_line
from pulse.demo.ndjson import encode, gzip_writer
from pulse.demo.region import REGION, normalise_cities
from pulse.demo.stream import stream


class MonthFiles:
    """The exporter's files: one per arrival month, lines counted, the first one gzipped.

    Lines collect in ``buf`` (the same list for the whole run, so a caller may append to it
    directly and call :meth:`maybe_flush`); ``line`` is the current file's last line number.
    """

    def __init__(self, out_dir: Path, gzip_first: bool):
        self.out_dir = out_dir
        self.gzip_next = gzip_first
        self.fh = None
        self.name: str | None = None
        self.flushed = 0
        self.buf: list[str] = []
        self.files: list[str] = []

    @property
    def line(self) -> int:
        return self.flushed + len(self.buf)

    def open(self, month: str) -> None:
        self.close()
        name = f"events-{month}.ndjson" + (".gz" if self.gzip_next else "")
        path = self.out_dir / name
        # open until the next month's file (or close()): a with block cannot span the calls
        self.fh = gzip_writer(path) if self.gzip_next else open(path, "wb")  # noqa: SIM115
        self.gzip_next = False
        self.name = name
        self.files.append(name)
        self.flushed = 0

    def write(self, line: str) -> int:
        """Append one line; returns its 1-based line number in the current file."""
        self.buf.append(line)
        if len(self.buf) >= 20_000:
            self.flush()
        return self.line

    def maybe_flush(self) -> None:
        if len(self.buf) >= 20_000:
            self.flush()

    def write_bytes(self, raw: bytes) -> int:
        self.flush()
        self.fh.write(raw + b"\n")
        self.flushed += 1
        return self.line

    def flush(self) -> None:
        if self.buf:
            self.fh.write(("\n".join(self.buf) + "\n").encode("utf-8"))
            self.flushed += len(self.buf)
            self.buf.clear()

    def close(self) -> None:
        if self.fh is not None:
            self.flush()
            self.fh.close()
            self.fh = None


def generate_files(out_dir: str | Path, *, seed: int = 7, now: datetime, days: int = 365,
                   cities: Iterable[Mapping[str, Any]] = REGION, scale: float = 1.0,
                   dirty: bool = True, redeliver: float = 0.01) -> dict:
    """Write the stream as the platform's exporter would, into ``out_dir``.

    One file per arrival month (``events-YYYY-MM.ndjson``; the oldest month ``.ndjson.gz``), lines
    in arrival order. About ``redeliver`` of the events are delivered a second time (the identical
    line, later in the same file or in a later one). With ``dirty``, one line of each kind in
    :data:`DIRTY_KINDS` and two events of unknown types (``poll:created``, ``poll:voted``) are
    mixed in. The clean events are exactly those of :func:`generate_events` with the same
    arguments.

    Existing ``events-*.ndjson*`` files in ``out_dir`` are removed first. Returns a summary of
    what was written: ``files`` (names in path order), ``lines`` (all lines, all files), and
    what they are, which adds up to ``lines``:

    * ``events``: distinct clean events (``by_type``: their count per type);
    * ``unknown_type_events``: distinct events of a type the contract does not list;
    * ``redeliveries``: second copies of an event's line;
    * ``dirty_records``: dirty lines that are records, each with a reject reason (``dirty``:
      reason -> count);
    * ``blank_lines``: empty or whitespace-only lines.

    ``dirty_lines`` lists both of the last two, ``{"file", "line", "kind", "reason"}`` with reason
    ``None`` for a blank line; ``dirty_kinds`` counts them by kind. Also ``cities``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("events-*.ndjson*"):
        old.unlink()
    cities = normalise_cities(cities)
    rng = random.Random(seed * 1_000_003 + 424_242)
    rnd = rng.random
    now_ms = to_ms(now)
    first_day = (now_ms - days * DAY_MS) // DAY_MS
    last_day = now_ms // DAY_MS

    # what goes where: dirty kinds and unknown types at random arrival days
    plan: list[tuple[int, int, str]] = []
    if dirty:
        for k, kind in enumerate(DIRTY_KINDS):
            plan.append((rng.randint(first_day + 3, last_day), k, kind))
        for k, typ in enumerate(UNKNOWN_TYPES):
            plan.append((rng.randint(first_day + 3, last_day), 100 + k, typ))
    plan.sort()
    next_plan_day = plan[0][0] if plan else 1 << 62
    pi = 0

    files = MonthFiles(out, gzip_first=True)
    month_day = -1
    month = None
    heap: list[tuple[int, int, str, str | None]] = []  # (due line, tie, line, dirty kind)
    carry: list[tuple[str, str | None]] = []  # for the next file
    tie = 0
    written = 0  # lines written so far, all files
    redeliveries = 0
    dirty_lines: list[dict] = []
    by_type: dict[str, int] = defaultdict(int)
    pending_conflict = False
    unknown = 0

    def emit_scheduled(line: str, kind: str | None) -> None:
        nonlocal written, redeliveries
        ln = files.write(line)
        written += 1
        if kind is None:
            redeliveries += 1
        else:
            dirty_lines.append({"file": files.name, "line": ln, "kind": kind,
                                "reason": DIRTY_KINDS[kind]})

    gc_was_enabled = gc.isenabled()
    gc.disable()  # the stream allocates millions of small objects and frees them in order
    try:
        for day, eid, src, typ, tstr, slug, data in stream(seed=seed, now=now, days=days,
                                                          cities=cities, scale=scale):
            if day != month_day:
                month_day = day
                mo = date_str(day)[:7]
                if mo != month:
                    month = mo
                    files.open(mo)
                    write = files.write
                    buf_append = files.buf.append
                    for line, kind in carry:
                        tie += 1
                        heapq.heappush(heap, (written + rng.randint(1, 300), tie, line, kind))
                    carry.clear()
            while heap and heap[0][0] <= written:
                _, _, line, kind = heapq.heappop(heap)
                emit_scheduled(line, kind)
            # exactly encode(envelope): every attribute but data is plain ASCII by construction
            line = (f'{{"specversion":"1.0","id":"{eid}","source":"{src}","type":"{typ}",'
                    f'"time":"{tstr}","city":"{slug}","data":{encode(data)}}}')
            buf_append(line)
            written += 1
            if written % 4096 == 0:
                files.maybe_flush()
            by_type[typ] += 1
            if rnd() < redeliver:
                if rnd() < 0.2:
                    carry.append((line, None))
                else:
                    tie += 1
                    heapq.heappush(heap, (written + rng.randint(1, 2000), tie, line, None))
            if day < next_plan_day and not pending_conflict:
                continue
            env = {"specversion": "1.0", "id": eid, "source": src, "type": typ, "time": tstr,
                   "city": slug, "data": data}
            if pending_conflict and typ == "event:created":
                pending_conflict = False
                tie += 1
                heapq.heappush(heap, (written + rng.randint(20, 400), tie, conflicting_copy(env),
                                      "conflicting_duplicate"))
            while day >= next_plan_day:
                _, k, kind = plan[pi]
                pi += 1
                next_plan_day = plan[pi][0] if pi < len(plan) else 1 << 62
                if kind == "conflicting_duplicate":
                    pending_conflict = True
                elif kind in UNKNOWN_TYPES:
                    write(unknown_type_line(kind, env, k))
                    written += 1
                    unknown += 1
                else:  # blank lines too: their reason is None
                    raw = dirty_line(kind, env, k, cities)
                    ln = files.write_bytes(raw) if isinstance(raw, bytes) else write(raw)
                    written += 1
                    dirty_lines.append({"file": files.name, "line": ln, "kind": kind,
                                        "reason": DIRTY_KINDS[kind]})
        for line, kind in carry:
            tie += 1
            heapq.heappush(heap, (written, tie, line, kind))
        while heap:
            _, _, line, kind = heapq.heappop(heap)
            emit_scheduled(line, kind)
    finally:
        files.close()
        if gc_was_enabled:
            gc.enable()
    events = sum(by_type.values())

    reasons: dict[str, int] = defaultdict(int)
    kinds: dict[str, int] = defaultdict(int)
    for d in dirty_lines:
        kinds[d["kind"]] += 1
        if d["reason"]:
            reasons[d["reason"]] += 1
    blank_lines = sum(1 for d in dirty_lines if d["reason"] is None)
    summary = {
        "files": sorted(files.files),
        "events": events,
        "lines": written,
        "redeliveries": redeliveries,
        "dirty": dict(sorted(reasons.items())),
        "dirty_lines": dirty_lines,
        "dirty_records": len(dirty_lines) - blank_lines,
        "dirty_kinds": dict(sorted(kinds.items())),
        "blank_lines": blank_lines,
        "unknown_type_events": unknown,
        "cities": [c["slug"] for c in cities],
        "by_type": dict(sorted(by_type.items())),
    }
    # the callers (`pulse demo`) reconcile ingest's counts with these: they must cover every line
    assert written == events + unknown + redeliveries + len(dirty_lines), summary
    return summary

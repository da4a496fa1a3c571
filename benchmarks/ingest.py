"""Ingest throughput against the physical limit, delta cost, and peak memory.

    python benchmarks/ingest.py [--events N] [--rounds R] [--phases] [--from-source]

Generates N events (about 240 bytes a line, ~2 % redeliveries, a few dirty lines) as NDJSON and
times, R times over (best of R; the machine is shared, so each round runs the steps back to
back and ratios are taken within a round):

(a) DuckDB's own `read_json` of the file into a table, no validation (the physical limit here);
(b) `pulse ingest` of the same file into an empty warehouse;
(c) `pulse ingest` of a 1 % delta appended to the file afterwards;
(0) `pulse ingest` once more with nothing new: the fixed cost of a run (starting Python and
    the CLI, opening the warehouse), which (c) pays too;
(d) `pulse ingest` of a 4 % delta appended after that.

A delta's cost is the fixed cost, a constant once per run that stores anything (planning the
validation queries, a commit, the checkpoint as the warehouse closes) and a cost per event.
(c) and (d) together give the last two: the cost per event of a delta, against that of the
full run (b), says whether a delta costs in proportion to its size.

Prints events/s, b/a (per round and of the bests; and of CPU seconds, which other work on the
machine disturbs less than elapsed time), the delta's cost against (b) as measured and
without the fixed cost, and the peak RSS of (b) at N and at N/10. Each measured step runs in its
own process, so its peak memory is its own.

Each run starts as an installed Pulse does, from bytecode: pip compiles it at install, and the
raw read of (a) starts from DuckDB's installed bytecode too. Run from a source tree on a machine
that sets PYTHONDONTWRITEBYTECODE (this one does), each `pulse` would compile its modules again,
about 0.06 s a run; so they are compiled first (`compiled`). `--from-source` measures without
(and leaves whatever bytecode an earlier run wrote: remove the `__pycache__` folders first).

`--phases` adds one ingest in this process with the time of each of its SQL steps (`ahead:`
those of the thread that judges the next batch while one commits, so the lines add up to more
than the wall time) and what is left of the committing thread's time: waiting, Python, opening
and closing.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TYPES = ("user:joined_city", "event:rsvp", "blog:post_viewed", "event:checked_in", "event:created")
CITIES = ("sydney", "melbourne", "perth", "auckland", "singapore")
DIRTY = ('{"specversion":"1.0","id":"cut', "not json at all", "[1,2,3]",
         '{"specversion":"1.0","id":"x","source":"s","type":"user:joined_city","city":"sydney","data":{"user_id":"u"}}')


def event_line(i: int, rng: random.Random) -> str:
    kind = TYPES[i % len(TYPES)]
    city = CITIES[i % len(CITIES)]
    user = f"u_{rng.randrange(200_000):06d}"
    meetup = f"m_{rng.randrange(5_000):05d}"
    if kind == "user:joined_city":
        data = {"user_id": user, "via": "signup-form"}
    elif kind == "event:rsvp":
        data = {"event_id": meetup, "user_id": user, "status": ("going", "waitlist", "not_going")[i % 3]}
    elif kind == "blog:post_viewed":
        data = {"post_id": f"p_{rng.randrange(900)}", "visitor_id": f"v_{rng.randrange(10**7)}",
                "referrer": "https://news.example.org/"}
    elif kind == "event:checked_in":
        data = {"event_id": meetup, "user_id": user}
    else:
        data = {"event_id": meetup, "title": "Python Night: async in practice", "starts_at":
                "2026-04-01T18:30:00+11:00", "capacity": 80}
    second = i % 86_400
    return json.dumps({
        "specversion": "1.0", "id": f"01JF8Q6V9ZK2M3{i:010d}", "source": "platform/apac", "type": kind,
        "time": f"2026-03-{1 + i % 28:02d}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.120+11:00",
        "city": city, "data": data}, separators=(",", ":"))


def write_stream(path: Path, start: int, count: int, seed: int) -> int:
    """Append `count` events (ids from `start`), ~2 % redelivered, a few dirty; return lines written."""
    rng = random.Random(seed)
    recent: list[str] = []
    lines = 0
    with open(path, "a", encoding="utf-8") as out:
        for i in range(start, start + count):
            text = event_line(i, rng)
            out.write(text + "\n")
            lines += 1
            recent.append(text)
            if len(recent) > 1000:
                recent.pop(0)
            if rng.random() < 0.02:
                out.write(rng.choice(recent) + "\n")
                lines += 1
            if i % 250_000 == 7:
                out.write(DIRTY[(i // 250_000) % len(DIRTY)] + "\n")
                lines += 1
    return lines


def compiled() -> None:
    """Have the measured processes start from bytecode, as an installed Pulse does: Pulse's
    packages compiled once, into the tree's `__pycache__` folders (ignored by git; Python checks
    each file against its source before using it)."""
    root = Path(__file__).resolve().parent.parent
    packages = [str(root / name) for name in ("pulse", "jobs", "analytics", "posters", "dashboards")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True, stdout=subprocess.DEVNULL)


def measured(command: list[str], **kwargs) -> tuple[float, int, str, float]:
    """Seconds, peak RSS in bytes, stdout and CPU seconds (user + system) of a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, **kwargs)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{command} failed with {process.returncode}")
    return seconds, usage.ru_maxrss * 1024, out.strip(), usage.ru_utime + usage.ru_stime


RAW_READ = """
import duckdb, sys
con = duckdb.connect(sys.argv[2])
con.execute("SET threads = 2")
con.execute("CREATE TABLE t AS SELECT * FROM read_json(?, format='newline_delimited', ignore_errors=true)", [sys.argv[1]])
print(con.execute("SELECT count(*) FROM t").fetchall()[0][0])
"""


def pulse(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pulse", "--data-dir", str(data_dir), "ingest", *args]


def run(n: int, work: Path, rounds: int) -> dict:
    """Each round: (a) and (b) back to back on a fresh copy of the file, then (c) and (0)."""
    base = work / f"base-{n}.ndjson"
    lines = write_stream(base, 0, n, seed=n)
    delta = max(n // 100, 1)
    delta_file = work / f"delta-{n}.ndjson"
    delta_lines = write_stream(delta_file, n, delta, seed=n + 1)
    bigger_file = work / f"delta4-{n}.ndjson"
    bigger_lines = write_stream(bigger_file, n + delta, 4 * delta, seed=n + 2)
    result = {"n": n, "lines": lines, "bytes": base.stat().st_size, "delta": delta, "delta_lines": delta_lines,
              "bigger_lines": bigger_lines, "rounds": []}
    for r in range(rounds):
        stream = work / f"stream-{n}-{r}.ndjson"
        shutil.copyfile(base, stream)
        raw_db = work / f"raw-{n}-{r}.duckdb"
        raw_s, raw_rss, _, raw_cpu = measured([sys.executable, "-c", RAW_READ, str(stream), str(raw_db)])
        warehouse = work / f"warehouse-{n}-{r}"
        ingest_s, ingest_rss, ingest_out, ingest_cpu = measured(pulse(warehouse, "--file", str(stream)))
        with open(stream, "ab") as out, open(delta_file, "rb") as more:
            shutil.copyfileobj(more, out)
        delta_s, _, delta_out, delta_cpu = measured(pulse(warehouse, "--file", str(stream)))
        fixed_s, _, _, fixed_cpu = measured(pulse(warehouse, "--file", str(stream)))
        with open(stream, "ab") as out, open(bigger_file, "rb") as more:
            shutil.copyfileobj(more, out)
        bigger_s, _, _, _ = measured(pulse(warehouse, "--file", str(stream)))
        result["rounds"].append({"raw_s": raw_s, "raw_rss": raw_rss, "raw_cpu": raw_cpu, "ingest_s": ingest_s,
                                 "ingest_rss": ingest_rss, "ingest_out": ingest_out, "ingest_cpu": ingest_cpu,
                                 "delta_s": delta_s, "delta_out": delta_out, "delta_cpu": delta_cpu,
                                 "fixed_s": fixed_s, "fixed_cpu": fixed_cpu,
                                 "bigger_s": bigger_s})
        for path in (stream, raw_db):
            path.unlink(missing_ok=True)
        shutil.rmtree(warehouse, ignore_errors=True)
    return result


def best(result: dict, key: str) -> float:
    return min(r[key] for r in result["rounds"])


def delta_shape(result: dict) -> tuple[float, float]:
    """(seconds a line, seconds once a run) of a delta beyond the fixed cost, from the best (c)
    and (d): the line through those two points."""
    small, large = best(result, "delta_s") - best(result, "fixed_s"), best(result, "bigger_s") - best(result, "fixed_s")
    per_line = (large - small) / (result["bigger_lines"] - result["delta_lines"])
    return per_line, small - per_line * result["delta_lines"]


class _Timed:
    """A DuckDB connection that adds up the time of each SQL step, by its first words (those run
    on a cursor of it, in another thread, marked `ahead:`)."""

    def __init__(self, con, totals: dict, prefix: str = ""):
        self._con, self._totals, self._prefix = con, totals, prefix

    def execute(self, sql, *args):
        words = sql.split()
        key = self._prefix + " ".join(words[4:8] if words[:4] == ["CREATE", "OR", "REPLACE", "TEMP"] else words[:5])[:60]
        started = time.perf_counter()
        try:
            return _TimedResult(self._con.execute(sql, *args), key, self._totals)
        finally:
            self._totals[key][0] += time.perf_counter() - started
            self._totals[key][1] += 1

    def sql(self, sql):
        return _TimedRelation(self._con.sql(sql), self._prefix + " ".join(sql.split()[:3])[:60], self._totals)

    def cursor(self):
        return _Timed(self._con.cursor(), self._totals, prefix="ahead: ")

    def __getattr__(self, name):
        return getattr(self._con, name)


class _TimedRelation:
    def __init__(self, relation, key, totals):
        self._relation, self._key, self._totals = relation, key, totals

    def to_arrow_table(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self._relation.to_arrow_table(*args, **kwargs)
        finally:
            self._totals[self._key][0] += time.perf_counter() - started
            self._totals[self._key][1] += 1


class _TimedResult:
    def __init__(self, result, key, totals):
        self._result, self._key, self._totals = result, key, totals

    def fetchall(self):
        started = time.perf_counter()
        try:
            return self._result.fetchall()
        finally:
            self._totals[self._key][0] += time.perf_counter() - started


def phases(path: Path, work: Path) -> list[str]:
    """One ingest of `path` in this process: lines with the time of each SQL step."""
    # This script's folder comes first on sys.path, where benchmarks/dashboards.py would stand
    # in for the dashboards package that loading the plugins imports: the repository instead.
    here = Path(__file__).resolve().parent
    sys.path[:] = [str(here.parent)] + [p for p in sys.path if Path(p or ".").resolve() != here]
    from jobs.ingest import run as ingest_run
    from pulse.core.config import from_dict

    totals: dict = collections.defaultdict(lambda: [0.0, 0])
    opened = ingest_run.open_warehouse

    @contextlib.contextmanager
    def timed_warehouse(*args, **kwargs):
        with opened(*args, **kwargs) as con:
            yield _Timed(con, totals)

    config = from_dict({"warehouse": {"data_dir": str(work / "phases")}}, base_dir=work)
    ingest_run.open_warehouse = timed_warehouse
    try:
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        summary = ingest_run.ingest(config, files=[str(path)])
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        ingest_run.open_warehouse = opened
    used = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    lines = [f"phases of one ingest in this process: {wall:.2f} s wall, {used:.2f} s CPU  [{summary.line()}]"]
    in_sql = 0.0
    for key, (seconds, count) in sorted(totals.items(), key=lambda kv: -kv[1][0]):
        in_sql += seconds
        if seconds >= 0.005:
            lines.append(f"    {seconds:6.2f} s  {count:4d} x  {key}")
    ahead = sum(seconds for key, (seconds, _) in totals.items() if key.startswith("ahead:"))
    lines.append(f"    {wall - in_sql + ahead:6.2f} s  the rest (of the wall time, less what this thread spent in SQL):"
                 f" waiting for the next batch to be read and judged, Python, opening and closing the warehouse")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="times each step is measured (best counts)")
    parser.add_argument("--phases", action="store_true", help="also time the SQL steps of one ingest")
    parser.add_argument("--keep", action="store_true", help="keep the generated files and warehouses")
    parser.add_argument("--from-source", action="store_true",
                        help="let each run compile Pulse's modules, as from a source tree without bytecode")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-ingest-"))
    try:
        if not args.from_source:
            compiled()
        big = run(args.events, work, args.rounds)
        small = run(max(args.events // 10, 1000), work, args.rounds)
        split = phases(work / f"base-{args.events}.ndjson", work) if args.phases else []
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    mib = 1024 * 1024
    raw_s, ingest_s, delta_s, fixed_s = (best(big, k) for k in ("raw_s", "ingest_s", "delta_s", "fixed_s"))
    out = big["rounds"][0]
    print(f"events: {big['n']:,} ({big['lines']:,} lines, {big['bytes'] / mib:.0f} MiB, "
          f"{big['bytes'] / big['lines']:.0f} B/line); best of {args.rounds}; "
          f"{'compiling Pulse in every run' if args.from_source else 'from bytecode'}")
    print(f"(a) DuckDB read_json, no validation: {raw_s:6.2f} s  {big['lines'] / raw_s:>10,.0f} lines/s")
    print(f"(b) pulse ingest, empty warehouse:   {ingest_s:6.2f} s  {big['lines'] / ingest_s:>10,.0f} lines/s"
          f"   [{out['ingest_out']}]")
    per_round = ", ".join(f"{r['raw_s'] / r['ingest_s']:.2f}" for r in big["rounds"])
    print(f"    ratio b/a (throughput): {raw_s / ingest_s:.2f} of the bests; per round {per_round}   (target >= 0.5)")
    raw_cpu, ingest_cpu, fixed_cpu = (best(big, k) for k in ("raw_cpu", "ingest_cpu", "fixed_cpu"))
    print(f"    CPU seconds (user + system): a {raw_cpu:.2f}, b {ingest_cpu:.2f} (of which {fixed_cpu:.2f} the fixed cost);"
          f" ratio {raw_cpu / ingest_cpu:.2f}")
    print(f"(c) pulse ingest of a 1 % delta:     {delta_s:6.2f} s  {big['delta_lines'] / delta_s:>10,.0f} lines/s"
          f"   [{out['delta_out']}]")
    print(f"(0) pulse ingest with nothing new:   {fixed_s:6.2f} s  (the fixed cost of a run)")
    print(f"    delta cost / full cost: {delta_s / ingest_s:.3f} for {big['delta_lines'] / big['lines']:.3f} of the data;"
          f" without the fixed cost {(delta_s - fixed_s) / (ingest_s - fixed_s):.3f}")
    per_event, per_run = delta_shape(big)
    full_per_event = (ingest_s - fixed_s) / big["lines"]
    print(f"(d) pulse ingest of a 4 % delta:     {best(big, 'bigger_s'):6.2f} s")
    print(f"    a delta costs the fixed cost + {per_run:.2f} s once + {per_event * 1e6:.2f} us a line;"
          f" the full run {full_per_event * 1e6:.2f} us a line: ratio {per_event / full_per_event:.2f}")
    print(f"    at N/10: delta {best(small, 'delta_s'):.2f} s vs full {best(small, 'ingest_s'):.2f} s"
          f" (fixed {best(small, 'fixed_s'):.2f} s)")
    rss, small_rss = max(r["ingest_rss"] for r in big["rounds"]), max(r["ingest_rss"] for r in small["rounds"])
    print(f"peak RSS of (b): {rss / mib:.0f} MiB at N, {small_rss / mib:.0f} MiB at N/10 "
          f"(raw read_json: {max(r['raw_rss'] for r in big['rounds']) / mib:.0f} MiB)")
    for line in split:
        print(line)


if __name__ == "__main__":
    main()

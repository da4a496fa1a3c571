"""Ingest throughput against the physical limit, delta cost, and peak memory.

    python benchmarks/ingest.py [--events N]

Generates N events (about 240 bytes a line, ~2 % redeliveries, a few dirty lines) as NDJSON and
times, in the same run: (a) DuckDB's own `read_json` of the file into a table, no validation
(the physical limit here); (b) `pulse ingest` of the same file into an empty warehouse; (c)
`pulse ingest` of a 1 % delta appended to the file afterwards. Prints events/s of each, b/a, the
delta's cost against (b), and the peak RSS of (b) at N and at N/10. Each measured step runs in its
own process, so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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


def measured(command: list[str], **kwargs) -> tuple[float, int, str]:
    """Seconds, peak RSS in bytes and stdout of a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, **kwargs)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{command} failed with {process.returncode}")
    return seconds, usage.ru_maxrss * 1024, out.strip()


RAW_READ = """
import duckdb, sys
con = duckdb.connect(sys.argv[2])
con.execute("SET threads = 2")
con.execute("CREATE TABLE t AS SELECT * FROM read_json(?, format='newline_delimited', ignore_errors=true)", [sys.argv[1]])
print(con.execute("SELECT count(*) FROM t").fetchall()[0][0])
"""


def pulse(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pulse", "--data-dir", str(data_dir), "ingest", *args]


def run(n: int, work: Path) -> dict:
    stream = work / f"stream-{n}.ndjson"
    lines = write_stream(stream, 0, n, seed=n)
    size = stream.stat().st_size
    raw_s, raw_rss, _ = measured([sys.executable, "-c", RAW_READ, str(stream), str(work / f"raw-{n}.duckdb")])
    warehouse = work / f"warehouse-{n}"
    ingest_s, ingest_rss, ingest_out = measured(pulse(warehouse, "--file", str(stream)))
    delta = max(n // 100, 1)
    delta_lines = write_stream(stream, n, delta, seed=n + 1)
    delta_s, _, delta_out = measured(pulse(warehouse, "--file", str(stream)))
    return {"n": n, "lines": lines, "bytes": size, "raw_s": raw_s, "raw_rss": raw_rss, "ingest_s": ingest_s,
            "ingest_rss": ingest_rss, "ingest_out": ingest_out, "delta": delta, "delta_lines": delta_lines,
            "delta_s": delta_s, "delta_out": delta_out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated files and warehouses")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-ingest-"))
    try:
        big = run(args.events, work)
        small = run(max(args.events // 10, 1000), work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    mib = 1024 * 1024
    print(f"events: {big['n']:,} ({big['lines']:,} lines, {big['bytes'] / mib:.0f} MiB, {big['bytes'] / big['lines']:.0f} B/line)")
    print(f"(a) DuckDB read_json, no validation: {big['raw_s']:6.2f} s  {big['lines'] / big['raw_s']:>10,.0f} lines/s")
    print(f"(b) pulse ingest, empty warehouse:   {big['ingest_s']:6.2f} s  {big['lines'] / big['ingest_s']:>10,.0f} lines/s   [{big['ingest_out']}]")
    print(f"    ratio b/a (throughput): {big['raw_s'] / big['ingest_s']:.2f}   (target >= 0.5)")
    print(f"(c) pulse ingest of a 1 % delta:     {big['delta_s']:6.2f} s  {big['delta_lines'] / big['delta_s']:>10,.0f} lines/s   [{big['delta_out']}]")
    print(f"    delta cost / full cost: {big['delta_s'] / big['ingest_s']:.3f} for {big['delta_lines'] / big['lines']:.3f} of the data")
    print(f"    at N/10: delta {small['delta_s']:.2f} s vs full {small['ingest_s']:.2f} s")
    print(f"peak RSS of (b): {big['ingest_rss'] / mib:.0f} MiB at N, {small['ingest_rss'] / mib:.0f} MiB at N/10 "
          f"(raw read_json: {big['raw_rss'] / mib:.0f} MiB)")


if __name__ == "__main__":
    main()

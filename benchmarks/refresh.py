"""Incremental refresh vs full build of the analytics models.

Generates the demo stream (pulse.demo) with about N events over a year, holds back a 1 %
delta (half the newest events, half a random sample of the whole history: late events that
rewrite old periods), ingests the rest and builds; then ingests the delta and times
`pulse build` (incremental) against `pulse build --full` over the same warehouse. Each build
runs as its own `pulse` process, so its peak memory (VmHWM) is measured alone.

    .venv/bin/python benchmarks/refresh.py                  # 5 M events
    .venv/bin/python benchmarks/refresh.py --events 1000000 --keep /tmp/bench

Target: the incremental refresh costs at most 10 % of the full build.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs.ingest.run import ingest  # noqa: E402
from pulse import demo as demo_data  # noqa: E402
from pulse.core.config import from_dict  # noqa: E402

NOW = datetime(2026, 3, 1, tzinfo=UTC)
# The child reports its own peak RSS (VmHWM): getrusage's ru_maxrss of a child also counts the
# parent's pages it had between fork and exec.
CHILD = """
import atexit, sys
from pulse.cli import main
def peak():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            print('peak_rss_kib', line.split()[1], file=sys.stderr)
atexit.register(peak)
main()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000_000, help="events in the stream (default 5,000,000)")
    parser.add_argument("--delta", type=float, default=0.01, help="share held back as the delta (default 0.01)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder, removed)")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit (default 1GB, as pulse's default)")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="pulse-bench-refresh-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(args, work: Path) -> None:
    data_dir = work / "warehouse"
    shutil.rmtree(data_dir, ignore_errors=True)
    config = from_dict({"warehouse": {"data_dir": str(data_dir), "memory_limit": args.memory_limit,
                                      "lock_timeout_seconds": 5}}, base_dir=work)
    print(f"pulse refresh benchmark: {args.events:,} events, {args.delta:.1%} delta, "
          f"{os.cpu_count()} CPUs, memory_limit {args.memory_limit}", flush=True)

    started = time.perf_counter()
    scale = demo_data.events_for_scale(args.events, seed=args.seed, now=NOW)
    rng = random.Random(args.seed)
    base_file, delta_file = work / "base.ndjson", work / "delta.ndjson"
    delta: list[dict] = []
    # the stream comes in arrival order: past this index are the newest events
    total = sum(1 for _ in demo_data.generate_events(seed=args.seed, now=NOW, scale=scale))
    newest_from = int(total * (1 - args.delta / 2))

    def base_events():
        for index, envelope in enumerate(demo_data.generate_events(seed=args.seed, now=NOW, scale=scale)):
            if index >= newest_from or rng.random() < args.delta / 2:
                delta.append(envelope)  # new, or late: a random sample of the whole history
            else:
                yield envelope

    base_count = demo_data.write_events(base_file, base_events())
    delta_count = demo_data.write_events(delta_file, delta)
    del delta[:]
    print(f"generated {base_count:,} + {delta_count:,} events in {time.perf_counter() - started:.1f} s", flush=True)

    started = time.perf_counter()
    summary = ingest(config, files=[str(base_file)])
    print(f"ingested base: {summary.line()} in {time.perf_counter() - started:.1f} s", flush=True)
    first = pulse_build(config, [])
    print(f"first build (full): {first['seconds']:.2f} s, peak RSS {first['peak_mib']:.0f} MiB", flush=True)

    started = time.perf_counter()
    summary = ingest(config, files=[str(delta_file)])
    print(f"ingested delta: {summary.line()} in {time.perf_counter() - started:.1f} s", flush=True)
    incremental = pulse_build(config, [])
    full = pulse_build(config, ["--full"])
    ratio = incremental["seconds"] / full["seconds"]
    print()
    print(f"incremental build: {incremental['seconds']:.2f} s  (process {incremental['wall']:.2f} s, "
          f"peak RSS {incremental['peak_mib']:.0f} MiB)")
    print(f"full build:        {full['seconds']:.2f} s  (process {full['wall']:.2f} s, "
          f"peak RSS {full['peak_mib']:.0f} MiB)")
    print(f"ratio incremental / full: {ratio:.1%}  (target <= 10 %: {'met' if ratio <= 0.10 else 'NOT met'})")
    print(f"warehouse size: {(data_dir / 'pulse.duckdb').stat().st_size / 2**20:.0f} MiB")


def pulse_build(config, extra: list[str]) -> dict:
    """`pulse build` in its own process: the build time it reports, its wall time, its peak RSS."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, "--data-dir", str(config.data_dir), "build", *extra],
            cwd=ROOT, stdout=out, stderr=err, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        child.wait()
        wall = time.perf_counter() - started
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode:
        sys.exit(f"pulse build {' '.join(extra)} failed:\n{stderr}")
    # "in X s" from `incremental build: events up to seq N (M new) in X s`
    seconds = float(stdout.rsplit(" in ", 1)[1].split()[0])
    peak_kib = int(stderr.rsplit("peak_rss_kib ", 1)[1].split()[0])
    return {"seconds": seconds, "wall": wall, "peak_mib": peak_kib / 1024, "stdout": stdout}


if __name__ == "__main__":
    main()

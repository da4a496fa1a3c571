"""Dashboards at demo scale for 100 cities: offline rendering time, and city-page and overview
latency under concurrent readers of a running `pulse serve`.

    python benchmarks/dashboards.py [--cities 100] [--seconds 30] [--clients 8] [--only overview]

Generates a year of the demo stream for N cities, ingests and builds it, then measures in the
same run:
 (a) `export_all` of every city page and the overview (seconds, and seconds per city), with the
     snapshot publish timed on its own;
 (b) the latency of city pages (random city, range 30/90/365 days, period week/month) from
     `--clients` signed-in clients for `--seconds`, against a `pulse serve` process, twice:
     as it runs (it computes every city's preset pages ahead after each new snapshot; the load
     starts once it says it has, and the time that took is printed), and with its cache off
     (every page computed while the visitor waits: the worst case, right after a new snapshot).
 (c) the overview of every city with its sparklines (random preset range and period) from
     `--clients` clients, time to the first byte of the page and to its end, against the same
     server as it runs and with its cache off; the baseline measured in the same run is
     `/healthz` under the same load (the server's own cost per request, no figures); and one
     overview alone right after start (cache off: every city's figures computed while waiting).
Prints the 50th/95th/99th percentiles, requests per second, and the p95 of the 365-day pages
(a city with a year of data). Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics import refresh  # noqa: E402
from dashboards.export import export_snapshot  # noqa: E402
from dashboards.snapshot import publish, snapshot_path  # noqa: E402
from jobs.ingest.run import ingest  # noqa: E402
from pulse.core import config as config_module  # noqa: E402
from pulse.demo import generate_files  # noqa: E402
from pulse.people import People  # noqa: E402

TIMEZONES = ["Australia/Sydney", "Australia/Perth", "Pacific/Auckland", "Asia/Singapore", "Europe/London",
             "America/New_York", "America/Sao_Paulo", "Asia/Kolkata", "Africa/Nairobi", "Europe/Berlin"]
PASSWORD = "benchmark-password"


def region(n: int) -> list[dict]:
    return [{"slug": f"city-{i:03d}", "name": f"City {i:03d}", "timezone": TIMEZONES[i % len(TIMEZONES)],
             "region": "bench", "weight": 0.6 + (i % 7) / 10} for i in range(n)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, url: str, email: str):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        form = self.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        body = urllib.parse.urlencode({"email": email, "password": PASSWORD, "csrf_token": token, "next": "/"})
        with self.opener.open(url + "/sign-in", data=body.encode(), timeout=60) as response:
            response.read()

    def get(self, path: str) -> str:
        with self.opener.open(self.url + path, timeout=60) as response:
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            return response.read().decode("utf-8")

    def timed(self, path: str) -> tuple[float, float]:
        """(seconds to the first byte of the body, seconds to its end)."""
        started = time.perf_counter()
        with self.opener.open(self.url + path, timeout=60) as response:
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            response.read(1)
            first = time.perf_counter() - started
            response.read()
        return first, time.perf_counter() - started


def load(url: str, cities: list[str], clients: int, seconds: float, seed: int) -> dict:
    """`clients` threads, each signed in, fetching random city pages for `seconds`."""
    sessions = [Client(url, "admin@bench.example") for _ in range(clients)]
    latencies: list[tuple[str, float]] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work(client: Client, rng: random.Random):
        while time.monotonic() < deadline:
            range_name = rng.choice(["30d", "90d", "365d"])
            path = f"/city/{rng.choice(cities)}?range={range_name}&period={rng.choice(['week', 'month'])}"
            started = time.perf_counter()
            try:
                client.get(path)
            except Exception as error:  # noqa: BLE001 - counted and printed
                with lock:
                    errors.append(f"{path}: {error}")
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append((range_name, elapsed))

    threads = [threading.Thread(target=work, args=(c, random.Random(seed + i))) for i, c in enumerate(sessions)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - began
    every = [t for _, t in latencies]
    year = [t for r, t in latencies if r == "365d"]
    return {"requests": len(every), "errors": errors, "rps": len(every) / took,
            "p50": percentile(every, 50), "p95": percentile(every, 95), "p99": percentile(every, 99),
            "p95_365d": percentile(year, 95)}


def load_paths(url: str, paths, clients: int, seconds: float, seed: int) -> dict:
    """`clients` signed-in threads fetching `paths(rng)` for `seconds`: first-byte and full latencies."""
    sessions = [Client(url, "admin@bench.example") for _ in range(clients)]
    first: list[float] = []
    full: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work(client: Client, rng: random.Random):
        while time.monotonic() < deadline:
            path = paths(rng)
            try:
                to_first, to_end = client.timed(path)
            except Exception as error:  # noqa: BLE001 - counted and printed
                with lock:
                    errors.append(f"{path}: {error}")
                continue
            with lock:
                first.append(to_first)
                full.append(to_end)

    threads = [threading.Thread(target=work, args=(c, random.Random(seed + i))) for i, c in enumerate(sessions)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - began
    return {"requests": len(full), "errors": errors, "rps": len(full) / took, "first_p50": percentile(first, 50),
            "first_p95": percentile(first, 95), "first_p99": percentile(first, 99), "full_p95": percentile(full, 95)}


def overview_path(rng: random.Random) -> str:
    return f"/?range={rng.choice(['30d', '90d', '365d'])}&period={rng.choice(['week', 'month'])}"


def serve_and_load(data_dir: Path, cities: list[str], args, cache_size: int) -> dict:
    port = free_port()
    env = {**os.environ, "PULSE_SESSION_SECRET": "benchmark-" + "s" * 40}
    log = open(data_dir.parent / f"serve-{port}.log", "wb")  # noqa: SIM115 - the server writes into it until the end
    server = subprocess.Popen([sys.executable, "-m", "pulse", "--data-dir", str(data_dir), "serve", "--port",
                               str(port), "--cache-size", str(cache_size)], stdout=log, stderr=subprocess.STDOUT,
                              env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"pulse serve did not start; see {log.name}") from None
                time.sleep(0.2)
        started = time.monotonic()
        warmed = None
        if cache_size:
            # As it runs: the server computes every city's preset pages after each new snapshot.
            while time.monotonic() - started < 600:
                with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
                    if json.loads(response.read())["warm"]:
                        warmed = time.monotonic() - started
                        break
                time.sleep(0.5)
        result = {}
        if not cache_size:
            # One overview alone, the first request of this server: every city computed while waiting.
            result["cold_overview"] = Client(url, "admin@bench.example").timed("/?range=90d&period=week")
        if args.only in (None, "city"):
            result.update(load(url, cities, args.clients, args.seconds, seed=cache_size))
        if args.only in (None, "overview"):
            result["overview"] = load_paths(url, overview_path, args.clients, args.seconds, seed=cache_size)
            result["baseline"] = load_paths(url, lambda rng: "/healthz", args.clients, min(args.seconds, 10),
                                            seed=cache_size)
        result["warmed_in"] = warmed
        return result
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cities", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (printed).")
    parser.add_argument("--only", choices=["city", "overview"], help="Measure only the city pages or the overview.")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pulse-bench-dashboards-"))
    try:
        config = config_module.from_dict({"warehouse": {"data_dir": str(work / "data")}}, base_dir=work)
        now = datetime.now(UTC).replace(microsecond=0)
        cities = region(args.cities)
        started = time.perf_counter()
        summary = generate_files(work / "events", now=now, cities=cities)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        ingest(config, files=[str(work / "events")])
        refresh.build(config)
        loaded = time.perf_counter() - started
        print(f"data: {args.cities} cities, {summary['events']:,} events over a year "
              f"(generated in {generated:.1f} s, ingested and built in {loaded:.1f} s)")

        started = time.perf_counter()
        publish(config)
        published = time.perf_counter() - started
        started = time.perf_counter()
        files = export_snapshot(snapshot_path(config), work / "offline", now=now)
        rendered = time.perf_counter() - started
        pages = [f for f in files if f.suffix == ".html"]
        print(f"(a) offline export: {len(pages) - 1} city pages + overview in {rendered:.1f} s "
              f"({rendered / args.cities:.3f} s per city; target < 30 s in all); snapshot publish {published:.2f} s")

        People(config).add("admin@bench.example", "admin", password=PASSWORD)
        slugs = [c["slug"] for c in cities]
        for label, size in (("as served: pages computed ahead", 1024), ("cache off: every page computed", 0)):
            result = serve_and_load(config.data_dir, slugs, args, size)
            if result["warmed_in"] is not None:
                print(f"    the server computed the {len(slugs) * 6} preset pages of {len(slugs)} cities "
                      f"and the 6 overviews in {result['warmed_in']:.1f} s after start")
            if "requests" in result:
                print(f"(b) {args.clients} clients x {args.seconds:.0f} s, {label}: {result['requests']} pages, "
                      f"{result['rps']:.1f}/s; latency p50 {result['p50'] * 1000:.0f} ms, "
                      f"p95 {result['p95'] * 1000:.0f} ms, p99 {result['p99'] * 1000:.0f} ms; "
                      f"p95 of 365-day pages {result['p95_365d'] * 1000:.0f} ms (target < 200 ms); "
                      f"errors {len(result['errors'])}")
                for error in result["errors"][:5]:
                    print(f"    {error}")
            if "cold_overview" in result:
                first, full = result["cold_overview"]
                print(f"(c) the overview of {len(slugs)} cities alone, first request of a server with its cache "
                      f"off: first byte {first * 1000:.0f} ms, page {full * 1000:.0f} ms (target: first paint < 1 s)")
            if "overview" in result:
                over, base = result["overview"], result["baseline"]
                print(f"(c) overview of {len(slugs)} cities with sparklines, {args.clients} clients x "
                      f"{args.seconds:.0f} s, {label}: {over['requests']} pages, {over['rps']:.1f}/s; first byte "
                      f"p50 {over['first_p50'] * 1000:.0f} ms, p95 {over['first_p95'] * 1000:.0f} ms "
                      f"(target < 200 ms), p99 {over['first_p99'] * 1000:.0f} ms; whole page p95 "
                      f"{over['full_p95'] * 1000:.0f} ms; baseline /healthz first byte p95 "
                      f"{base['first_p95'] * 1000:.1f} ms (overview {over['first_p95'] / base['first_p95']:.1f}x); "
                      f"errors {len(over['errors']) + len(base['errors'])}")
                for error in (over["errors"] + base["errors"])[:5]:
                    print(f"    {error}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""`pulse demo`: the whole pipeline on a generated region, in a warehouse of its own.

The demo never touches the real warehouse: it works in `<data_dir>/demo/`, which it recreates on
every run, so `make demo` can be run again and again and always shows the same kind of result.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from analytics import refresh
from analytics.summary import summarize, summary_lines
from dashboards.demo import demo_sign_in, render_demo
from jobs.ingest.run import ingest
from pulse.demo.files import generate_files
from pulse.demo.region import REGION
from pulse.config import Config, SourceConfig
from posters.demo import demo_posts

DEMO_SOURCE = "demo-exports"


def demo_config(config: Config) -> Config:
    """The configuration the demo runs with: the real one, over `<data_dir>/demo/` and its exports."""
    folder = config.data_dir / "demo"
    exports = SourceConfig(name=DEMO_SOURCE, kind="files", path=str(folder / "exports"), settle_seconds=0)
    return dataclasses.replace(
        config,
        warehouse=dataclasses.replace(config.warehouse, data_dir=str(folder)),
        sources=(exports,),
    )


def run_demo(config: Config, say: Callable[[str], None] = print) -> Config:
    demo = demo_config(config)
    folder = demo.data_dir
    shutil.rmtree(folder, ignore_errors=True)
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)

    say(f"1. Generating a year of a demo region's event stream into {folder / 'exports'}")
    written = generate_files(folder / "exports", now=now)
    cities = ", ".join(c["slug"] for c in REGION)
    say(f"   {len(written['files'])} NDJSON files (one gzipped), {written['events']:,} events for {cities},"
        f" with redeliveries and {len(written['dirty_lines'])} dirty lines")

    say("2. Ingesting them (validated, deduplicated, every reject kept with its reason)")
    summary = ingest(demo)
    say(f"   {summary.line()}")

    say("3. Building the metrics")
    report = refresh.build(demo)
    say(f"   built in {report.seconds:.1f} s")
    for text in summary_lines(summarize(demo, as_of=now.date())):
        say(f"   {text}")

    say("4. Rendering the dashboards (offline HTML, and the snapshot `pulse serve` reads)")
    pages = render_demo(demo, folder / "dashboards")
    say(f"   {len(pages)} pages in {folder / 'dashboards'}")

    say("5. Drafting posts for the upcoming meetups (Slack, X, Facebook) and dry-running them")
    for text in demo_posts(demo, now=now, show=3).rstrip().splitlines():
        say(f"   {text}")

    shown = _shown_dir(folder)
    sign_in = demo_sign_in(demo)
    say("")
    say("Where to look next:")
    say(f"   open {pages[0]}   # the region overview; each city links to its page")
    say(f"   pulse --data-dir {shown} serve                   # then sign in at http://127.0.0.1:8080/")
    say(f"        as {sign_in.email} with password {sign_in.password}")
    say(f"        or once with {sign_in.link}")
    say(f"   pulse --data-dir {shown} rejects                 # what was rejected, where and why")
    say(f"   pulse --data-dir {shown} sources                 # where each source stands")
    say(f"   pulse --data-dir {shown} metrics member-growth --city sydney --period month "
        f"--from {now.date().replace(day=1, year=now.year - 1)} --to {now.date()}")
    say(f"   pulse --data-dir {shown} metrics attendance --city all")
    say(f"   pulse --data-dir {shown} posts list                # the drafted posts and their states")
    return demo


def _shown_dir(folder: Path) -> str:
    try:
        return str(folder.relative_to(Path.cwd()))
    except ValueError:
        return str(folder)

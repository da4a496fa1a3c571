"""`pulse demo`: the whole pipeline on a generated region, in a warehouse of its own.

The demo never touches the real warehouse: it works in `<data_dir>/demo/`, which it recreates on
every run, so `make demo` can be run again and again and always shows the same kind of result.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from analytics.summary import summarize, summary_lines
from dashboards.demo import demo_sign_in, render_demo
from jobs import pipeline
from jobs.ingest.run import IngestSummary
from jobs.ingest.sources.files import FilesSettings
from pulse.core.config import Config
from pulse.demo.files import generate_files
from pulse.demo.next_steps import SERVE_URL, demo_pulse, next_steps
from posters.demo import demo_posts

DEMO_SOURCE = "demo-exports"


def demo_config(config: Config) -> Config:
    """The configuration the demo runs with: the real one, over `<data_dir>/demo/` and its exports."""
    folder = config.data_dir / "demo"
    exports = FilesSettings(name=DEMO_SOURCE, kind="files", path=str(folder / "exports"), settle_seconds=0)
    return config.with_data_dir(folder).replace(sources=(exports,))


def run_demo(config: Config, say: Callable[[str], None] = print) -> Config:
    """Run the whole pipeline on a newly generated region in `<data_dir>/demo/`, saying what
    each step did and what to try next; returns the demo's configuration."""
    demo = demo_config(config)
    folder = demo.data_dir
    shutil.rmtree(folder, ignore_errors=True)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    cwd = Path.cwd()

    say(f"1. Generating a year of a demo region's event stream into {folder / 'exports'}")
    written = generate_files(folder / "exports", now=now)
    for text in written_lines(written):
        say(f"   {text}")

    say("2. Ingesting them (validated, deduplicated, every reject kept with its reason)")
    summary = pipeline.ingest(demo)
    say(f"   {summary.line()}")
    for text in reconciled_lines(written, summary):
        say(f"   {text}")

    say("3. Building the metrics (and publishing the snapshot the dashboards read)")
    report = pipeline.build(demo)
    say(f"   built in {report.seconds:.1f} s")
    for text in summary_lines(summarize(demo, as_of=now.date())):
        say(f"   {text}")

    say("4. Rendering the dashboards as offline HTML (from that snapshot)")
    pages = render_demo(demo, folder / "dashboards")
    html = [page for page in pages if page.suffix == ".html"]
    say(f"   {len(html)} pages (the overview and one per city) in {folder / 'dashboards'}")

    pulse = demo_pulse(folder, config.path, cwd)
    say("5. Drafting posts for the upcoming meetups (Slack, X, Facebook) and dry-running them")
    posts = demo_posts(demo, now=now, show=3)
    # posters.demo names a bare `pulse` and the absolute folder in its "see them with" hint:
    # point it at the same command as the lines below
    posts = posts.replace(f"`pulse --data-dir {demo.data_dir} ", f"`{shlex.join(pulse)} ")
    for text in posts.rstrip().splitlines():
        say(f"   {text}")

    sign_in = demo_sign_in(demo, base_url=SERVE_URL.rstrip("/"))
    say("")
    for text in next_steps(pulse, index=pages[0], today=now.date(), sign_in=sign_in, cwd=cwd):
        say(text)
    return demo


def written_lines(written: dict) -> list[str]:
    """What generate_files wrote, every line accounted for (its summary's counts)."""
    files = written["files"]
    gzipped = ", the oldest gzipped" if files and files[0].endswith(".gz") else ""
    reasons = len(written["dirty"])
    return [
        f"{len(files)} NDJSON files{gzipped}, for {', '.join(written['cities'])}: "
        f"{written['lines']} lines,",
        f"{written['events']} events, {written['redeliveries']} redeliveries of them, "
        f"{written['unknown_type_events']} events of unknown types, "
        f"{written['dirty_records']} dirty lines ({reasons} reject reasons), "
        f"{written['blank_lines']} blank lines",
    ]


def reconciled_lines(written: dict, summary: IngestSummary) -> list[str]:
    """How ingest's counts account for every line written, or where they do not: accepted are
    the events (unknown types included), duplicates the redeliveries, rejected the dirty
    records; blank lines are skipped."""
    blank = written["blank_lines"]
    terms = [
        ("accepted", summary.accepted, written["events"] + written["unknown_type_events"],
         f"{written['events']} events + {written['unknown_type_events']} of unknown types"),
        ("duplicates", summary.duplicates, written["redeliveries"],
         f"{written['redeliveries']} redeliveries"),
        ("rejected", summary.rejected, written["dirty_records"],
         f"{written['dirty_records']} dirty lines"),
    ]
    said = [f"{name} = {what}" if got == want else f"{name} {got} != {what}"
            for name, got, want, what in terms]
    total = summary.accepted + summary.duplicates + summary.rejected + blank
    adds_up = total == written["lines"] and all(got == want for _, got, want, _ in terms)
    sum_text = f"{summary.accepted} + {summary.duplicates} + {summary.rejected} + {blank} = {total}"
    return [
        f"which {'adds up' if adds_up else 'does not add up'}: {said[0]}, {said[1]},",
        f"{said[2]}, and {blank} blank lines skipped: "
        + (f"{sum_text} lines written" if total == written["lines"]
           else f"{sum_text}, but {written['lines']} lines were written"),
    ]

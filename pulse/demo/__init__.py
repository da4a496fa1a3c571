"""`pulse demo` and the generated event stream it runs on.

The generator (pure standard library) makes a demo region's event stream as the platform would
publish it; `run_demo` runs the whole pipeline on it in a warehouse of its own. The modules:

* region.py: the default region, and the checks a list of cities goes through
* clock.py: epoch milliseconds, each city's UTC offsets, RFC 3339 strings
* words.py: meetup series, talk topics, venues, blog titles and the like
* world.py: the state one stream is made from (random source, members, schedule)
* fixed.py: the city upserts, the rename and the deliberate edge cases
* members.py: joins, leaves and rejoins, day by day
* meetups.py: meetups, with their updates, RSVPs and check-ins
* blog.py: posts and their views
* stream.py: all of it in arrival order (generate_events)
* ndjson.py: events as NDJSON lines, exactly as json.dumps writes them (write_events)
* dirty.py: the dirty lines, blank lines and unknown-type events the files carry
* files.py: the exporter's monthly files, with redeliveries and dirty lines (generate_files)
* scale.py: events_for_scale, for benchmarks that ask for a number of events
* run.py: the `pulse demo` pipeline (run_demo) and what it prints of each step
* next_steps.py: the commands it suggests, which work exactly as printed
"""

from __future__ import annotations

from typing import Any

from pulse.demo.dirty import DIRTY_KINDS
from pulse.demo.files import generate_files
from pulse.demo.ndjson import write_events
from pulse.demo.region import REGION
from pulse.demo.scale import events_for_scale
from pulse.demo.stream import generate_events

__all__ = [
    "DEMO_SOURCE",
    "DIRTY_KINDS",
    "REGION",
    "demo_config",
    "events_for_scale",
    "generate_events",
    "generate_files",
    "run_demo",
    "write_events",
]

_PIPELINE = {"DEMO_SOURCE", "demo_config", "run_demo"}


def __getattr__(name: str) -> Any:
    # The pipeline is imported on first use: it loads DuckDB, pandas, plotly and Flask (about
    # half a second), which the tests and benchmarks that only generate a stream do not need.
    if name in _PIPELINE:
        from pulse.demo import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _PIPELINE)

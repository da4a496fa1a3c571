"""`pulse demo` end to end, as `make demo` runs it: a fresh folder, then again over it."""

from __future__ import annotations

import pytest

import subprocess
import sys

from pulse.core import config as config_module
from tests.support.demo import ENV, assert_commands_start_with_executables
from tests.support.records import query

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out


def run_demo(cwd):
    return subprocess.run([sys.executable, "-m", "pulse", "demo"], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=ENV)


def test_demo_runs_the_pipeline_and_says_where_to_look(tmp_path):
    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "Where to look next" in out and "pulse --data-dir .pulse/demo rejects" in out
    config = config_module.from_dict({"warehouse": {"data_dir": str(tmp_path / ".pulse" / "demo")}})
    [(events, cities)] = query(config, "SELECT count(*), count(DISTINCT city) FROM events")
    assert events > 10_000 and cities == 5
    reasons = {reason for (reason,) in query(config, "SELECT DISTINCT reason FROM rejects")}
    assert {"invalid_json", "invalid_utf8", "conflicting_duplicate", "bad_time"} <= reasons
    accepted_line = next(line for line in out.splitlines() if line.strip().startswith("accepted "))
    assert f"accepted {events}," in accepted_line
    assert "dry run, nothing sent" in out
    index = tmp_path / ".pulse" / "demo" / "dashboards" / "index.html"
    assert f"# open {index.as_uri()} in a browser" in out and index.is_file()  # no display here
    assert all((index.parent / f"{city}.html").is_file() for city in ("sydney", "perth", "auckland"))
    assert "members, " in out and "attendance rate 0." in out  # the per-city summary
    # started as `python -m pulse`, it says so in the commands it prints
    commands = assert_commands_start_with_executables(out, tmp_path)
    assert all(" -m pulse --data-dir .pulse/demo " in c for c in commands), commands

    again = run_demo(tmp_path)  # the demo starts over: no leftovers of the first run
    assert again.returncode == 0, again.stderr
    [(events_again,)] = query(config, "SELECT count(*) FROM events")
    assert f"accepted {events_again}, duplicates" in again.stdout

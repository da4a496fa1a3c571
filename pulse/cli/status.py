"""`pulse status`: each job's last run, each source's lag, posts waiting for a person, the age of
the dashboards' data and the alerts that hold; exit 0 when healthy, 1 when a person is needed
(so it serves as a health check)."""

from __future__ import annotations

import json
import sys

import click

from pulse.cli.common import load_config, utf8_stdout
from pulse.core import registry


def _when(moment, now) -> str:
    from pulse.core.instants import ago

    if moment is None:
        return "-"
    return f"{moment.strftime('%Y-%m-%d %H:%M')} UTC ({ago(now, moment)})"


def _instant(moment) -> str | None:
    from pulse.core.instants import format_instant

    return format_instant(moment) if moment is not None else None


def _seconds(delta) -> float | None:
    return round(delta.total_seconds(), 3) if delta is not None else None


def as_json(health) -> dict:
    return {
        "healthy": health.healthy,
        "checked_at": _instant(health.at),
        "problems": health.problems,
        "notes": health.notes,
        "jobs": [{"job": j.job, "schedule": j.schedule, "running": j.running,
                  "last_run": None if j.last is None else {
                      "started_at": _instant(j.last.started_at), "finished_at": _instant(j.last.finished_at),
                      "seconds": j.last.seconds, "outcome": j.last.outcome, "line": j.last.line,
                      "error": j.last.error, "counts": j.last.counts, "host": j.last.host, "pid": j.last.pid,
                      "trigger": j.last.trigger}} for j in health.jobs],
        "sources": [{"source": s.name, "last_completed_at": _instant(s.last_completed_at),
                     "lag_seconds": _seconds(s.lag), "last_status": s.last_status} for s in health.sources],
        "posts": health.posts,
        "data": None if health.data is None else {
            "snapshot_at": _instant(health.data.snapshot_at), "built": health.data.built,
            "data_as_of": _instant(health.data.data_as_of), "age_seconds": _seconds(health.data.age),
            "events_not_built": health.data.events_waiting},
        "alerts": [{"key": a.key, "city": a.city, "rule": a.rule, "title": a.title, "detail": a.detail}
                   for a in health.alerts],
    }


def as_text(health, width: int) -> str:
    from pulse.core.instants import brief
    from pulse.core.output import printable, render_table

    now = health.at
    parts = []
    rows = []
    for j in health.jobs:
        if j.last is None:
            rows.append((j.job, "never run", "-", "-", j.schedule))
            continue
        run = j.last
        took = "running" if j.running else (f"{run.seconds:.1f} s" if run.seconds is not None else "-")
        said = run.line if run.outcome == "ok" else (run.error or "")
        rows.append((j.job, f"{run.outcome}: {said}" if said else run.outcome, _when(run.started_at, now), took,
                     j.schedule))
    parts.append("jobs\n" + render_table(("job", "last run", "started", "took", "schedule"), rows, width=width))
    if health.sources:
        rows = [(s.name, brief(s.lag) if s.lag is not None else "never completed", s.last_status or "-",
                 _when(s.last_completed_at, now)) for s in health.sources]
        parts.append("sources (as of the dashboards' snapshot)\n"
                     + render_table(("source", "lag", "last run", "last complete pull"), rows, width=width))
    data = health.data
    if data is not None:
        if data.snapshot_at is None:
            line = "no snapshot yet (nothing built)"
        else:
            age = f"{brief(data.age)} old (as of {_when(data.data_as_of, now)})" if data.age is not None \
                else "no ingest has completed"
            line = f"{age}; snapshot taken {_when(data.snapshot_at, now)}"
            if data.events_waiting:
                line += f"; {data.events_waiting} events ingested are not built yet"
        parts.append(f"dashboards' data: {line}\n")
    if health.posts:
        p = health.posts
        parts.append(f"posts: {p['pending_approval']} pending approval, {p['failed']} failed, "
                     f"{p['needs_attention']} need attention, {p['waiting_retry']} waiting for a retry\n")
    if health.alerts:
        parts.append(f"alerts ({len(health.alerts)}):\n" + "".join(
            f"  {printable(a.city)}: {printable(a.title)}\n" for a in health.alerts))
    for note in health.notes:
        parts.append(f"note: {printable(note)}\n")
    if health.problems:
        parts.append("NEEDS A PERSON:\n" + "".join(f"  - {printable(p)}\n" for p in health.problems))
    else:
        parts.append("healthy\n")
    return "\n".join(parts)


@click.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def status_command(ctx: click.Context, fmt: str) -> None:
    """Is Pulse healthy? Each job's last run, each source's lag, posts waiting for a person, the
    age of the dashboards' data, the alerts that hold.

    Exit 0 when healthy; 1 when something needs a person (a job's last run failed or was killed,
    the data is older than [status] max_data_age_hours, a post failed or needs attention).
    Never waits for a running ingest or build: use it as a health check.
    """
    from jobs.status import check
    from pulse.core.output import terminal_width

    config = load_config(ctx)
    health = check(config)
    with utf8_stdout() as out:
        if fmt == "json":
            out.write(json.dumps(as_json(health), ensure_ascii=False, indent=1) + "\n")
        else:
            out.write(as_text(health, terminal_width()))
    sys.exit(0 if health.healthy else 1)


@registry.hookimpl
def pulse_commands():
    return [status_command]

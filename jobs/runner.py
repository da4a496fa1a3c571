"""The jobs cron or the scheduler runs: each a `Job` registered through the `pulse_jobs` hook,
one function returning a one-line result (or raising `JobFailed`).

`refresh` is what follows new data: ingest every source, bring the metrics up to date, publish
the dashboards' snapshot, and check `[alerts]` on it. `publish` drafts and sends posts.
`digest` sends the city leads' digests that are due (`jobs.digests`). Each is also a CLI command
of its own (`pulse ingest`, `pulse build`, `pulse publish`) for operators who prefer cron.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from collections.abc import Callable

from pulse.core import registry
from pulse.core.config import Config

from jobs import pipeline

log = logging.getLogger("pulse.jobs")


class JobFailed(Exception):
    """A job ran but could not do all of its work (a source unreadable, a post failed)."""


def refresh_job(config: Config) -> str:
    report = pipeline.refresh(config, on_wait=log.info)
    line = report.line()
    problems = list(report.ingest.errors)
    if config.alerts.configured:
        from jobs.digests import check_alerts

        try:
            alerts = check_alerts(config)
        except Exception as error:  # noqa: BLE001 - the refresh itself is done; say why the alerts are not
            problems.append(f"alerts: {type(error).__name__}: {error}")
        else:
            line += f"; {alerts.line()}"
            problems.extend(alerts.errors)
    if problems:
        raise JobFailed(f"{line}; " + "; ".join(problems))
    return line


def digest_job(config: Config) -> str:
    from jobs.digests import run_digests

    report = run_digests(config)
    if report.errors:
        raise JobFailed(f"{report.line()}; " + "; ".join(report.errors))
    return report.line()


def publish_job(config: Config) -> str:
    if not config.cities:
        return "no channels configured"
    from posters.publisher import Publisher

    report = Publisher(config, builder=pipeline.build).run()
    line = (f"published {report.count('published')}, failed {report.count('failed')}, "
            f"needs attention {report.count('needs_attention')}")
    if report.errors:
        raise JobFailed(f"{line}; " + "; ".join(report.errors))
    return line


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Config], str]
    """Does the job; returns one line saying what it did, or raises JobFailed."""
    description: str = ""


def jobs() -> dict[str, Job]:
    """Every registered job, by name."""
    return registry.collect("pulse_jobs")


@registry.hookimpl
def pulse_jobs():
    return [Job("refresh", refresh_job, "ingest every source, build the metrics, publish the dashboards' snapshot, "
                                        "check the alerts"),
            Job("publish", publish_job, "draft posts for new meetups, send those approved and due"),
            Job("digest", digest_job, "send the city leads' weekly (and monthly) digests that are due")]


def run_job(name: str, config: Config) -> bool:
    """Run one job, logging its start, result or failure; never raises (the scheduler goes on)."""
    started = time.monotonic()
    log.info("%s: started", name)
    try:
        result = jobs()[name].run(config)
    except JobFailed as failure:
        log.error("%s: finished with problems in %.1f s: %s", name, time.monotonic() - started, failure)
        return False
    except Exception:  # noqa: BLE001 - a 3 a.m. run must log and live on to the next tick
        log.exception("%s: failed after %.1f s", name, time.monotonic() - started)
        return False
    log.info("%s: %s (%.1f s)", name, result, time.monotonic() - started)
    return True

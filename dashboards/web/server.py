"""`pulse serve`: the web app under waitress, with the snapshot kept fresh in the background.

waitress: a pure-Python, production-grade WSGI server with a thread pool; pages spend their
time in DuckDB (which releases the GIL) and in rendering, so a few threads serve concurrent
readers well; the figures themselves are computed in `workers` processes (see `web/pages.py`). At start the server publishes a snapshot when the warehouse is free and newer
than the last one; while it runs, `Refresher` does the same every few seconds, never waiting
for the warehouse lock: a running ingest or build just means the next try.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Callable

import waitress

from dashboards.snapshot import Refresher
from pulse.config import Config


def serve(
    config: Config,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    threads: int = 8,
    workers: int = 2,
    refresh_seconds: float = 5.0,
    app_options: dict | None = None,
    say: Callable[[str], None] | None = None,
) -> None:
    """Serve until interrupted."""
    from dashboards.web.app import create_app

    say = say or (lambda message: print(message, file=sys.stderr, flush=True))
    refresher = Refresher(config, interval=refresh_seconds,
                          on_error=lambda error: say(f"pulse serve: could not refresh the dashboard snapshot: {error}"))
    try:
        if refresher.refresh_once():
            say("pulse serve: published a fresh dashboard snapshot")
        elif refresher.last_attempt_busy:
            say("pulse serve: the warehouse is busy; serving the previous snapshot until it is free")
    except Exception as error:  # a broken warehouse must not keep the pages down
        say(f"pulse serve: could not refresh the dashboard snapshot: {error}")
    app = create_app(config, **{"warm": True, "workers": workers, **(app_options or {})})
    refresher.start()
    # SIGTERM (a service manager stopping the server) ends it like Ctrl-C: the workers and the
    # refresher are stopped on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    # waitress says "Task queue depth is N" whenever every thread is busy: normal under load.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    say(f"pulse serve: http://{host}:{port}/ (Ctrl-C stops)")
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="pulse",
                       clear_untrusted_proxy_headers=True, _quiet=True)
    finally:
        refresher.stop()
        app.extensions["pulse.dashboards"].pages.stop()


def _interrupt(signum, frame):
    raise KeyboardInterrupt

"""`pulse serve`: the web shell's app under waitress, until SIGTERM or Ctrl-C.

waitress: a pure-Python, production-grade WSGI server with a thread pool; pages spend their
time in DuckDB (which releases the GIL) and in rendering, so a few threads serve concurrent
readers well. Each extension's background work (the dashboards keep their snapshot fresh and
compute figures ahead in worker processes) runs while the server does and is stopped on the
way out. The security log (`pulse.web.security_log`) goes to stderr as JSON lines.

Behind a reverse proxy, `trusted_proxy` is its address: waitress then takes the visitor's
address from the proxy's X-Forwarded-For (so each visitor has their own sign-in throttle,
instead of all sharing the proxy's), and drops those headers from anyone else.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable

from flask import Flask

from pulse.web import app as app_module, security_log


def serve(app: Flask, *, host: str = "127.0.0.1", port: int = 8080, threads: int = 8,
          trusted_proxy: str | None = None, say: Callable[[str], None] | None = None) -> None:
    """Serve `app` until interrupted. `trusted_proxy`: the address of a reverse proxy whose
    X-Forwarded-For/-Proto/-Host headers are believed (every other sender's are dropped)."""
    import waitress

    say = say or (lambda message: print(message, file=sys.stderr, flush=True))
    proxy = {}
    if trusted_proxy:
        proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
                 "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}}
    # Listening first: a port in use fails here (OSError), before any worker is started or any
    # address is printed as if it served.
    server = waitress.create_server(app, host=host, port=port, threads=threads, ident="pulse",
                                    clear_untrusted_proxy_headers=True, **proxy)
    security_log.install_handler()
    # waitress says "Task queue depth is N" whenever every thread is busy: normal under load.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # SIGTERM (a service manager stopping the server) ends it like Ctrl-C: the extensions'
    # workers are stopped on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    app_module.start(app)
    try:
        say(f"pulse serve: http://{host}:{server.effective_port}/ (Ctrl-C stops)")
        server.run()
    finally:
        server.close()
        app_module.stop(app)


def _interrupt(signum, frame):
    raise KeyboardInterrupt

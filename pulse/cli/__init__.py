"""The `pulse` command: a thin layer over the packages. Nothing imports it.

Each group of commands lives in its own module here and registers itself on the `main` group
when imported below; the group's options (`--config`, `--data-dir`) are loaded once into a
`Config` that every command gets from the click context (`common.load_config`).
"""

from __future__ import annotations

from pulse.cli.common import main
from pulse.cli import ingest as _ingest  # noqa: F401  (each import registers its commands)
from pulse.cli import analytics as _analytics  # noqa: F401
from pulse.cli import dashboards as _dashboards  # noqa: F401
from pulse.cli import posts as _posts  # noqa: F401
from pulse.cli import schedule as _schedule  # noqa: F401
from pulse.cli import demo as _demo  # noqa: F401

__all__ = ["main"]

"""The `pulse` command: a thin layer over the packages. Nothing imports it.

Each group of commands lives in its own module here and is registered below; the group's
options (`--config`, `--data-dir`) are loaded once into a `Config` that every command gets from
the click context.
"""

from __future__ import annotations

import sys

import click

from pulse import config as config_module
from pulse.cli.common import load_config, main as _main_group
from pulse.cli import ingest as _ingest  # noqa: F401  (registers its commands)
from pulse.cli import analytics as _analytics  # noqa: F401

main = _main_group
from pulse.cli import demo as _demo  # noqa: F401
from pulse.cli import dashboards as _dashboards  # noqa: F401
from pulse.cli import posts as _posts  # noqa: F401

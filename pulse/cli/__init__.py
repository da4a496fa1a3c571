"""The `pulse` command: composition only, a thin layer over the packages. Nothing imports it.

Each group of commands is a module here registering its click commands through the
`pulse_commands` hook (a plugin can add more the same way); the group's options
(`--config`, `--data-dir`) are loaded once into a `Config` that every command gets from the
click context (`common.load_config`). Commands import the packages they drive inside their
bodies, so `pulse --help` loads none of DuckDB, pandas or plotly.
"""

from __future__ import annotations

from pulse.cli.common import main
from pulse.core import registry

for _command in registry.collect("pulse_commands").values():
    main.add_command(_command)

__all__ = ["main"]

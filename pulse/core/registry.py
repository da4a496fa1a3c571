"""The registry of kinds: every source kind, channel kind, config section, web extension and CLI
command is one module that registers itself here through a pluggy hook, as datasette does.

The core never imports the packages above it: it knows them only by the dotted names in
`BUILTIN_PLUGINS` (a name ending in `.*` stands for every module of that package, so a new
channel or source kind is one new file in its folder), and a third-party plugin registers
through the `pulse` entry-point group. A plugin module must be cheap to import: it imports its
heavy libraries (DuckDB, pandas, the social SDKs) inside the functions that need them, so
`pulse --help` stays fast.

Each hook returns a list; `collect` flattens the lists of every plugin and checks that no two
things share a name (two kinds called "x" would be a bug, found at start).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Any

import pluggy

PROJECT = "pulse"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

BUILTIN_PLUGINS = (
    "pulse.core.warehouse",
    "pulse.core.emit",
    "analytics.plugin",
    "dashboards.plugin",
    "posters.plugin",
    "posters.channels.*",
    "jobs.plugin",
    "jobs.runner",
    "jobs.ingest.sources.*",
    "pulse.cli.*",
)


class Specs:
    """What a plugin can contribute. Each hook returns a list of things with a `name`."""

    @hookspec
    def pulse_config_sections(self) -> list:
        """`pulse.core.config.ConfigSection`s: the TOML tables this plugin owns."""

    @hookspec
    def pulse_warehouse_migrations(self) -> list:
        """`pulse.core.warehouse.Migrations`: a component's numbered SQL files for the warehouse."""

    @hookspec
    def pulse_source_kinds(self) -> list:
        """`jobs.ingest.sources.base.SourceKind`s: the `kind` values of `[sources.NAME]`."""

    @hookspec
    def pulse_channel_kinds(self) -> list:
        """`posters.channels.base.ChannelKind`s: the tables of `[cities.SLUG.channels.KIND]`."""

    @hookspec
    def pulse_web_extensions(self) -> list:
        """`pulse.web.extension.WebExtension`s: blueprints `pulse serve` mounts, with their
        public and CSRF-exempt endpoints, nav links, assets and background work."""

    @hookspec
    def pulse_commands(self) -> list:
        """click commands and groups of the `pulse` CLI."""

    @hookspec
    def pulse_jobs(self) -> list:
        """`jobs.runner.Job`s: what `pulse run JOB` and the scheduler can run."""


@functools.lru_cache(maxsize=1)
def manager() -> pluggy.PluginManager:
    """The plugin manager with every built-in plugin and installed third-party one, loaded once."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(Specs)
    for name in BUILTIN_PLUGINS:
        for module_name in _expand(name):
            module = importlib.import_module(module_name)
            if pm.get_plugin(module_name) is None:
                pm.register(module, name=module_name)
    pm.load_setuptools_entrypoints(PROJECT)
    return pm


def _expand(name: str) -> list[str]:
    if not name.endswith(".*"):
        return [name]
    package = importlib.import_module(name[:-2])
    return sorted(f"{package.__name__}.{info.name}" for info in pkgutil.iter_modules(package.__path__)
                  if not info.name.startswith("_"))


def collect(hook: str) -> dict[str, Any]:
    """Everything every plugin returns from `hook`, by name, in registration order."""
    found: dict[str, Any] = {}
    for contributed in reversed(getattr(manager().hook, hook)()):  # pluggy calls the last registered first
        for item in contributed or ():
            name = item.name
            if name in found:
                raise RuntimeError(f"two plugins register {hook} {name!r}: {found[name]!r} and {item!r}")
            found[name] = item
    return found

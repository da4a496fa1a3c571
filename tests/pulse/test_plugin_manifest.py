"""plugin.json tells the platform what Pulse is: it must match the CLI it ships."""

from __future__ import annotations

import json
from pathlib import Path

from pulse.cli import main

MANIFEST = json.loads((Path(__file__).resolve().parents[2] / "plugin.json").read_text())


def test_every_command_is_declared_and_exists():
    assert sorted(MANIFEST["commands"]) == sorted(main.commands)


def test_egress_domains_are_bare_host_names():
    domains = MANIFEST["external_domains"]
    assert domains and all("/" not in d and ":" not in d and d == d.lower() for d in domains)

"""What `pulse demo` needs from the dashboards: the offline files and a demo sign-in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from dashboards.export import export_snapshot
from dashboards.snapshot import snapshot_path
from pulse.core.config import Config
from pulse.people import People

DEMO_EMAIL = "demo-admin@pulse.example"


@dataclass(frozen=True)
class DemoSignIn:
    email: str
    password: str
    link: str
    """A one-time sign-in link (valid 24 hours), as `pulse users link` prints."""


def demo_sign_in(config: Config, base_url: str = "http://127.0.0.1:8080", email: str = DEMO_EMAIL) -> DemoSignIn:
    """An admin for the demo with a new random password (the person is created, or their
    password replaced, each time) and a one-time sign-in link."""
    people = People(config)
    password = secrets.token_urlsafe(12)
    if people.get(email) is None:
        people.add(email, "admin", password=password)
    else:
        people.update(email, role="admin")
        people.set_password(email, password)
    return DemoSignIn(email, password, people.issue_sign_in_link(email, base_url))


def render_demo(config: Config, out_dir: Path) -> list[Path]:
    """Write the offline dashboards of the published snapshot into `out_dir`; returns the files
    (`index.html` first)."""
    return export_snapshot(snapshot_path(config), out_dir)

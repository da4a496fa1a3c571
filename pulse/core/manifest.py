"""The plugin's manifest, `plugin.json`: what Pulse declares to the platform it may do.

The file sits at the top of the repository (where the platform's plugin layout wants it) and
is shipped inside the package (`pulse/core/plugin.json` links to it, and a wheel carries the
file's content), so an installed Pulse reads the very manifest it was built with, through
`importlib.resources`, never from a path beside the source tree.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any


@functools.lru_cache(maxsize=1)
def manifest() -> dict[str, Any]:
    return json.loads(resources.files("pulse.core").joinpath("plugin.json").read_text(encoding="utf-8"))


def external_domains() -> tuple[str, ...]:
    """The only outside domains Pulse may call (their subdomains included)."""
    return tuple(domain.lower().rstrip(".") for domain in manifest()["external_domains"])

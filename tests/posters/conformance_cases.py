"""twitter-text's conformance cases (Apache-2.0), from ../shared/conformance/ or tests/posters/conformance/.

See conformance/README.md for what each file holds and where it comes from.
"""

from __future__ import annotations

import json
from pathlib import Path

_HERE = Path(__file__).resolve().parent / "conformance"
_SHARED = Path(__file__).resolve().parents[3] / "shared" / "conformance"


def path(name: str) -> Path | None:
    """The shared copy when ../shared is laid beside the clone, else the repository's, else None."""
    for folder in (_SHARED, _HERE):
        if (folder / name).is_file():
            return folder / name
    return None


def load(name: str) -> list[dict]:
    found = path(name)
    return json.loads(found.read_text(encoding="utf-8")) if found else []

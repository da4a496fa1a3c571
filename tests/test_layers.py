"""The import direction of the layout (pyproject's import-linter contract) holds, and the check
would notice a breach."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pulse", "jobs", "analytics", "dashboards", "posters")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    # The tree under test must be the one imported: cwd first on the path, no editable install.
    return subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, '.'); "
                           "from importlinter.cli import lint_imports_command; lint_imports_command()"],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_no_package_imports_one_above_it():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_import_breaks_the_contract(tmp_path):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    core = tmp_path / "pulse" / "core" / "config.py"
    core.write_text(core.read_text() + "\nimport jobs.pipeline  # the core reaching up\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout
    assert "pulse.core.config -> jobs.pipeline" in result.stdout

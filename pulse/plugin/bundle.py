"""`pulse plugin bundle` and `pulse plugin verify`: the wheel and its marketplace entry.

The entry is what the platform's marketplace lists: who, what version, the bundle's file name
and its hash as Subresource Integrity writes one (`sha256-` + base64 of the SHA-256 digest), the
permissions and outside domains it asks for, and the results of the checks a vetting pipeline
runs: `pulse plugin check`, the tests (when asked: they take minutes), and a dependency audit
(pip-audit needs the network to fetch advisories, so the entry says it did not run rather than
pretend).

The wheel is built from the source tree with pip (`pip wheel --no-deps`), with
SOURCE_DATE_EPOCH set (to the last commit's time, else a fixed instant) so the same tree gives
the same bytes, and so the same hash.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulse.plugin import check as check_module

FIXED_EPOCH = "315532800"
"""1980-01-01, the earliest time a zip file can hold: used when the tree is not a git checkout."""
BUILD_TIMEOUT_SECONDS = 600
TESTS_TIMEOUT_SECONDS = 3600


class BundleError(Exception):
    """The bundle cannot be built (no source tree, pip failed), in one line."""


def sri_sha256(path: str | Path) -> str:
    """`sha256-` + base64 of the file's SHA-256 digest, as Subresource Integrity writes it."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return "sha256-" + base64.b64encode(digest.digest()).decode("ascii")


def source_root() -> Path:
    root = check_module.SOURCE_ROOT
    if not (root / "pyproject.toml").is_file() or not (root / "plugin.json").is_file():
        raise BundleError("the bundle is built from Pulse's source tree (pyproject.toml, plugin.json); "
                          "run `pulse plugin bundle` from a checkout's virtualenv")
    return root


def source_date_epoch(root: Path) -> str:
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return os.environ["SOURCE_DATE_EPOCH"]
    try:
        done = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%ct"], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return FIXED_EPOCH
    stamp = done.stdout.strip()
    return stamp if done.returncode == 0 and stamp.isdigit() and int(stamp) >= int(FIXED_EPOCH) else FIXED_EPOCH


def build_wheel(out: Path) -> Path:
    """Build the wheel into `out` (created when missing); its path."""
    root = source_root()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pulse-bundle-") as scratch:
        env = {**os.environ, "SOURCE_DATE_EPOCH": source_date_epoch(root), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        try:
            done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
                                   scratch, str(root)], capture_output=True, text=True, env=env,
                                  timeout=BUILD_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise BundleError(f"building the wheel took over {BUILD_TIMEOUT_SECONDS} s") from None
        wheels = sorted(Path(scratch).glob("pulse-*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            last = (done.stderr.strip().splitlines() or ["no wheel came out"])[-1]
            raise BundleError(f"building the wheel failed: {last}")
        target = out / wheels[0].name
        shutil.move(str(wheels[0]), target)
    return target


@dataclass
class CheckResult:
    ran: bool
    passed: bool | None = None
    summary: str = ""
    details: list[str] | None = None

    def json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"ran": self.ran}
        if self.ran:
            result["passed"] = self.passed
        result["summary" if self.ran else "why"] = self.summary
        if self.details:
            result["details"] = self.details
        return result


def plugin_check() -> CheckResult:
    document, problems = check_module.load(None)
    if document is not None:
        problems = check_module.check(document)
    count = len(problems)
    return CheckResult(True, not problems, f"{count} finding{'' if count == 1 else 's'}",
                       [p.line() for p in problems] or None)


_SUMMARY = re.compile(r"^=*\s*(.*\b(?:passed|failed|error|errors|no tests ran)\b.*?)\s*=*$")


def run_tests(args: list[str], cwd: Path) -> CheckResult:
    """The test suite (`python -m pytest ARGS` in `cwd`): passed or not, and pytest's closing line."""
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=cwd,
                              capture_output=True, text=True, timeout=TESTS_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return CheckResult(True, False, f"the tests did not finish in {TESTS_TIMEOUT_SECONDS} s")
    lines = [line for line in done.stdout.splitlines() if _SUMMARY.match(line)]
    summary = _SUMMARY.match(lines[-1]).group(1) if lines else f"pytest exited {done.returncode}"
    return CheckResult(True, done.returncode == 0, summary)


def audit() -> CheckResult:
    return CheckResult(False, summary="pip-audit fetches its advisories over the network (PyPI or OSV), and "
                                      "the bundle is vetted offline: no dependency audit ran")


def entry(wheel: Path, checks: dict[str, CheckResult], document: dict | None = None) -> dict[str, Any]:
    """The marketplace entry of `wheel`."""
    from pulse.core.manifest import manifest

    document = document or manifest()
    return {"id": document["id"], "name": document["name"], "author": document["author"],
            "version": document["version"], "bundle": wheel.name, "hash": sri_sha256(wheel),
            "permissions_requested": sorted(document["permissions"]),
            "external_domains": sorted(document["external_domains"]),
            "checks": {name: result.json() for name, result in checks.items()}}


def bundle(out: Path, *, tests: list[str] | None = None) -> tuple[Path, dict[str, Any]]:
    """Build the wheel into `out` and its entry; `tests`: pytest arguments to run the suite with (None: not run)."""
    checks = {"plugin_check": plugin_check()}
    wheel = build_wheel(out)
    if tests is None:
        checks["tests"] = CheckResult(False, summary="not asked for (--tests): the suite takes minutes")
    else:
        checks["tests"] = run_tests(tests, source_root())
    checks["audit"] = audit()
    return wheel, entry(wheel, checks)


def verify(entry_path: Path, wheel: Path) -> tuple[bool, str]:
    """(whether the wheel is the entry's bundle, what to say)."""
    try:
        listed = json.loads(Path(entry_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise BundleError(f"{entry_path}: cannot be read: {getattr(error, 'strerror', None) or error}") from None
    except json.JSONDecodeError as error:
        raise BundleError(f"{entry_path}: not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(listed, dict) or not isinstance(listed.get("hash"), str):
        raise BundleError(f"{entry_path}: not a marketplace entry (no \"hash\")")
    try:
        actual = sri_sha256(wheel)
    except OSError as error:
        raise BundleError(f"{wheel}: cannot be read: {error.strerror}") from None
    named = "" if listed.get("bundle") == Path(wheel).name else f" (the entry names {listed.get('bundle')!r})"
    if actual == listed["hash"]:
        return True, f"match: {Path(wheel).name} is the bundle of this entry ({actual}){named}"
    return False, f"MISMATCH: {Path(wheel).name} hashes to {actual}, the entry says {listed['hash']}{named}"

"""`pulse plugin bundle` and `verify`: the entry's hash is the wheel's SHA-256 (computed here by
coreutils' sha256sum, not by Pulse), a changed byte is a mismatch, and the entry lists what
the manifest asks for. (The wheel installed into a fresh venv: .ci/wheel-check.)"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pulse.plugin import bundle as bundle_module

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((ROOT / "plugin.json").read_text(encoding="utf-8"))


def pulse(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pulse", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle")
    done = pulse("plugin", "bundle", "--out", str(out))
    assert done.returncode == 0, done.stderr
    [wheel] = out.glob("pulse-*.whl")
    return out, wheel, json.loads(done.stdout)


def test_the_hash_is_the_wheels_sha256_as_subresource_integrity_writes_it(built):
    out, wheel, entry = built
    hexdigest = subprocess.run(["sha256sum", str(wheel)], capture_output=True, text=True, check=True).stdout.split()[0]
    assert entry["hash"] == "sha256-" + base64.b64encode(bytes.fromhex(hexdigest)).decode()
    assert entry["bundle"] == wheel.name == f"pulse-{MANIFEST['version']}-py3-none-any.whl"
    assert json.loads((out / "marketplace-entry.json").read_text(encoding="utf-8")) == entry


def test_the_entry_lists_the_manifests_requests_and_the_checks(built):
    _, _, entry = built
    assert {key: entry[key] for key in ("id", "name", "author", "version")} == {
        key: MANIFEST[key] for key in ("id", "name", "author", "version")}
    assert entry["permissions_requested"] == sorted(MANIFEST["permissions"])
    assert entry["external_domains"] == sorted(MANIFEST["external_domains"])
    assert entry["checks"]["plugin_check"] == {"ran": True, "passed": True, "summary": "0 findings"}
    assert entry["checks"]["tests"]["ran"] is False
    assert entry["checks"]["audit"]["ran"] is False and "network" in entry["checks"]["audit"]["why"]


def test_the_wheel_carries_the_manifest_and_its_schema(built):
    _, wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        assert json.loads(archive.read("pulse/core/plugin.json")) == MANIFEST
        assert json.loads(archive.read("pulse/core/plugin.schema.json")) == json.loads(
            (ROOT / "plugin.schema.json").read_text(encoding="utf-8"))
        assert "posters/migrations/020_outbox.sql" in archive.namelist()


def test_verify_says_match_or_mismatch(built, tmp_path):
    out, wheel, _ = built
    done = pulse("plugin", "verify", str(out / "marketplace-entry.json"), str(wheel))
    assert done.returncode == 0 and done.stdout.startswith("match: ")
    tampered = tmp_path / wheel.name
    shutil.copy(wheel, tampered)
    with open(tampered, "ab") as stream:
        stream.write(b"\0")
    done = pulse("plugin", "verify", str(out / "marketplace-entry.json"), str(tampered))
    assert done.returncode == 1 and done.stdout.startswith("MISMATCH: ")
    (tmp_path / "entry.json").write_text("{not json", encoding="utf-8")
    done = pulse("plugin", "verify", str(tmp_path / "entry.json"), str(wheel))
    assert done.returncode == 1 and "not JSON" in done.stderr and "Traceback" not in done.stderr


def test_the_same_tree_builds_the_same_bytes(built, tmp_path):
    _, wheel, entry = built
    again = bundle_module.build_wheel(tmp_path)
    assert bundle_module.sri_sha256(again) == entry["hash"]


def test_the_tests_check_reports_pytests_verdict(tmp_path):
    (tmp_path / "test_ok.py").write_text("def test_ok():\n    assert True\n", encoding="utf-8")
    passed = bundle_module.run_tests(["test_ok.py"], tmp_path)
    assert passed.passed is True and passed.summary.startswith("1 passed")
    (tmp_path / "test_bad.py").write_text("def test_bad():\n    assert False\n", encoding="utf-8")
    failed = bundle_module.run_tests([], tmp_path)
    assert failed.passed is False and "1 failed" in failed.summary and "1 passed" in failed.summary

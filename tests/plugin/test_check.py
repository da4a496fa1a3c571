"""`pulse plugin check`: the shipped manifest matches the code, and each kind of error in a
manifest (or in the code) gives its finding and exit 1."""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from pulse.cli import main
from pulse.core import config as config_module, manifest as manifest_module, registry
from pulse.plugin import check as check_module

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = json.loads((ROOT / "plugin.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def facts():
    return check_module.code_facts()


def run_check(tmp_path, document) -> tuple[int, list[str]]:
    path = tmp_path / "plugin.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = CliRunner().invoke(main, ["plugin", "check", "--manifest", str(path)])
    return result.exit_code, result.stdout.splitlines()


def broken(change) -> dict:
    document = copy.deepcopy(SHIPPED)
    change(document)
    return document


def test_the_shipped_manifest_matches_the_code():
    done = subprocess.run([sys.executable, "-m", "pulse", "plugin", "check"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
    assert "matches the code" in done.stderr


def test_the_packaged_manifest_and_schema_are_the_top_level_files():
    assert manifest_module.manifest() == SHIPPED
    assert manifest_module.schema() == json.loads((ROOT / "plugin.schema.json").read_text(encoding="utf-8"))


def _drop_route(document, path):
    document["routes"] = [route for route in document["routes"] if route["path"] != path]


CASES = [
    ("a missing field", lambda d: d.pop("author"),
     "plugin.json author: is missing; add it"),
    ("a version that is not semantic", lambda d: d.update(version="0.1"),
     'plugin.json version: "0.1" is not of the form plugin.schema.json gives for it'),
    ("a version that is not the package's", lambda d: d.update(version="0.2.0"),
     "plugin.json version: is '0.2.0' but the installed package is '0.1.0'; set it to \"0.1.0\""),
    ("a served route missing", lambda d: _drop_route(d, "/healthz"),
     'plugin.json routes: `pulse serve` answers /healthz (GET) but routes does not declare it; '
     'add {"path": "/healthz", "methods": ["GET"], "access": "public"} to routes'),
    ("a route declared that nobody serves",
     lambda d: d["routes"].append({"path": "/admin", "methods": ["GET"], "access": "signed_in"}),
     "plugin.json routes: routes declares /admin, which `pulse serve` does not answer; remove it"),
    ("a route's gate", lambda d: d["routes"][0].update(access="public"),
     'plugin.json routes: / (GET) is open to signed_in but declared \'public\'; set its access to "signed_in"'),
    ("a route's methods", lambda d: d["routes"][0].update(methods=["GET", "POST"]),
     'plugin.json routes: / is served for GET but declared for GET, POST; set its methods to ["GET"]'),
    ("a domain the code calls missing", lambda d: d["external_domains"].remove("graph.facebook.com"),
     "plugin.json external_domains: the facebook client connects to 'graph.facebook.com', which no declared "
     "domain covers; add \"graph.facebook.com\""),
    ("a domain no client calls", lambda d: d["external_domains"].append("upload.twitter.com"),
     "plugin.json external_domains: 'upload.twitter.com' is declared but no client Pulse builds calls it"),
    ("an emitted type undeclared", lambda d: d["events"]["emits"].remove("social:post_failed"),
     "plugin.json events.emits: Pulse emits 'social:post_failed', which is not declared; add \"social:post_failed\""),
    ("a type read but not listened to", lambda d: d["events"]["listens"].remove("event:rsvp"),
     "plugin.json events.listens: analytics/models/01_staging.sql reads 'event:rsvp', which is not listened to"),
    ("a permission missing", lambda d: d["permissions"].remove("read_blog"),
     "plugin.json permissions: reading blog:post_published, blog:post_viewed needs 'read_blog'; add \"read_blog\""),
    ("a command missing", lambda d: d["commands"].remove("publish"),
     "plugin.json commands: `pulse publish` exists but is not declared; add \"publish\""),
    ("a job's time", lambda d: d["schedule"][0].update(cron="0 * * * *"),
     "plugin.json schedule: job 'refresh' runs at '*/15 * * * *' by default, declared '0 * * * *'"),
    ("an unknown key", lambda d: d.update(homepage="https://example.org"),
     "plugin.json (top): Additional properties are not allowed ('homepage' was unexpected)"),
]


@pytest.mark.parametrize("what, change, expected", CASES, ids=[case[0] for case in CASES])
def test_each_kind_of_error_gives_its_finding_and_exit_1(tmp_path, what, change, expected):
    code, lines = run_check(tmp_path, broken(change))
    assert code == 1, lines
    assert any(line.startswith(expected) for line in lines), (expected, lines)


def test_every_finding_is_one_line_with_the_fix(tmp_path):
    def many(d):
        d.pop("author")
        d["events"]["emits"].remove("analytics:refreshed")
        d["external_domains"].remove("slack.com")
    code, lines = run_check(tmp_path, broken(many))
    assert code == 1 and len(lines) == 3
    assert all(line.startswith("plugin.json ") and "; " in line for line in lines)


def test_a_file_that_is_not_a_manifest_is_one_finding(tmp_path):
    path = tmp_path / "plugin.json"
    path.write_text('{"id": ', encoding="utf-8")
    result = CliRunner().invoke(main, ["plugin", "check", "--manifest", str(path)])
    assert result.exit_code == 1
    assert result.stdout.startswith("plugin.json (file): not JSON")
    result = CliRunner().invoke(main, ["plugin", "check", "--manifest", str(tmp_path / "absent.json")])
    assert result.exit_code == 1 and "cannot be read" in result.stdout
    assert "Traceback" not in result.output


def test_hostile_text_in_a_manifest_is_escaped_on_the_terminal(tmp_path):
    code, lines = run_check(tmp_path, broken(lambda d: d["commands"].append("x\x1b[2J")))
    assert code == 1
    assert not any("\x1b" in line for line in lines)


# --- the code changing under the manifest ---------------------------------------------------

def test_a_model_reading_another_type_is_a_finding_until_it_is_listened_to(facts):
    code = dataclasses.replace(facts, read_types={**facts.read_types, "event:photo_added": {"analytics/models/09.sql"}})
    lines = [f.line() for f in check_module.check(SHIPPED, code)]
    assert any("reads 'event:photo_added', which is not listened to" in line for line in lines)
    assert any("'event:photo_added' is read by the models but the platform's contract defines no such type" in line
               for line in lines)
    code = dataclasses.replace(facts, read_types={**facts.read_types, "media:uploaded": {"analytics/models/09.sql"}})
    assert any("no platform permission covers reading 'media:uploaded'" in f.line()
               for f in check_module.check(SHIPPED, code))


def test_a_channel_kind_calling_a_new_host_is_a_finding(facts):
    code = dataclasses.replace(facts, hosts={**facts.hosts, "x": (*facts.hosts["x"], "upload.twitter.com")})
    assert [f.line() for f in check_module.check(SHIPPED, code)] == [
        "plugin.json external_domains: the x client connects to 'upload.twitter.com', which no declared domain "
        "covers; add \"upload.twitter.com\""]


@pytest.fixture
def extra_route_plugin():
    """A third-party plugin (registered as an entry point would be) adding a page /extra."""
    from flask import Blueprint

    from pulse.web.extension import WebExtension

    blueprint = Blueprint("extra", __name__)
    blueprint.add_url_rule("/extra", "page", lambda: "extra")
    plugin = types.SimpleNamespace()
    plugin.pulse_web_extensions = registry.hookimpl(
        lambda: [WebExtension("extra", lambda config: blueprint)])
    registry.manager().register(plugin, name="tests.extra-route")
    yield
    registry.manager().unregister(name="tests.extra-route")


def test_pulse_serve_refuses_to_start_with_a_route_the_manifest_does_not_declare(extra_route_plugin, tmp_path):
    from pulse.web.app import create_app

    config = config_module.from_dict({"warehouse": {"data_dir": str(tmp_path / "data")}}, base_dir=tmp_path)
    with pytest.raises(manifest_module.ManifestError,
                       match=r"plugin.json routes: `pulse serve` answers /extra \(GET\) but routes does not declare it"):
        create_app(config, secret_key="s" * 40)
    findings = [f.line() for f in check_module.check(SHIPPED)]
    assert findings == ['plugin.json routes: `pulse serve` answers /extra (GET) but routes does not declare it; '
                        'add {"path": "/extra", "methods": ["GET"], "access": "signed_in"} to routes, or remove the route']


def test_without_the_extra_plugin_serve_builds(tmp_path):
    from pulse.web.app import create_app

    config = config_module.from_dict({"warehouse": {"data_dir": str(tmp_path / "data")}}, base_dir=tmp_path)
    app = create_app(config, secret_key="s" * 40)
    served = {path for path, _ in manifest_module.served_routes(app)}
    assert served == {route["path"] for route in SHIPPED["routes"]}


# --- the pages' Content-Security-Policy -----------------------------------------------------

def test_the_csp_is_built_from_the_manifest_and_names_no_server_side_domain(tmp_path):
    from pulse.web.app import create_app

    config = config_module.from_dict({"warehouse": {"data_dir": str(tmp_path / "data")}}, base_dir=tmp_path)
    policy = create_app(config, secret_key="s" * 40).test_client().get("/sign-in").headers["Content-Security-Policy"]
    assert policy == manifest_module.content_security_policy(SHIPPED)
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["connect-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["form-action"] == "'self'"
    assert not any(domain in policy for domain in SHIPPED["external_domains"])
    # A domain the manifest lets the pages use appears in it, and only such a one.
    widened = manifest_module.content_security_policy({**SHIPPED, "page_domains": ["cdn.example.org"]})
    widened_directives = dict(part.strip().split(" ", 1) for part in widened.split(";"))
    assert widened_directives["script-src"] == "'self' https://cdn.example.org"
    assert widened_directives["connect-src"] == "'self' https://cdn.example.org"
    assert widened_directives["object-src"] == "'none'"

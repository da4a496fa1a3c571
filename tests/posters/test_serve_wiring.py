"""A real `pulse serve` also serves the approval queue and Slack's interaction endpoint."""

from __future__ import annotations

import urllib.error
import urllib.request

from analytics import refresh
from jobs.ingest.run import ingest
from pulse.core import config as config_module
from tests.support.records import envelope, write_lines
from tests.support.web import Server


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def status(url: str, data: bytes | None = None) -> tuple[int, str]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=10) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


def test_pulse_serve_mounts_the_queue_and_the_slack_endpoint(tmp_path, monkeypatch):
    (tmp_path / "pulse.toml").write_text('[publisher]\nslack_signing_secret_env = "TEST_SLACK_SIGNING"\n')
    monkeypatch.setenv("PULSE_CONFIG", str(tmp_path / "pulse.toml"))
    monkeypatch.setenv("TEST_SLACK_SIGNING", "signing-secret-for-tests")
    config = config_module.load(data_dir=tmp_path / "data")
    ingest(config, files=[str(write_lines(tmp_path / "a.ndjson", [envelope()]))])
    refresh.build(config)
    server = Server(tmp_path / "data")
    try:
        code, location = status(server.url + "/posts")
        assert code in (302, 303) and "sign" in location  # the queue exists, behind sign-in
        code, _ = status(server.url + "/slack/interactions", data=b"payload=%7B%7D")
        assert code in (401, 403)  # exists, public, but refuses an unsigned request
        assert status(server.url + "/no-such-page")[0] == 404
    finally:
        server.stop()

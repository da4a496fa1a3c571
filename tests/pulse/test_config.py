"""Configuration: defaults with no file, and every mistake named by its key with a fix."""

from __future__ import annotations

import pytest

from pulse.core import config as config_module
from pulse.core.config import ConfigError


def load_text(tmp_path, text: str, **kwargs):
    path = tmp_path / "pulse.toml"
    path.write_text(text)
    return config_module.load(path, **kwargs)


def test_no_file_at_all_gives_defaults_under_dot_pulse(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PULSE_CONFIG", raising=False)
    config = config_module.load()
    assert config.path is None
    assert config.data_dir == (tmp_path / ".pulse").resolve()
    assert config.analytics.default_timezone == "UTC"
    assert config.sources == ()


def test_pulse_config_variable_and_data_dir_override(tmp_path, monkeypatch):
    (tmp_path / "conf.toml").write_text('[warehouse]\ndata_dir = "store"\n')
    monkeypatch.setenv("PULSE_CONFIG", str(tmp_path / "conf.toml"))
    assert config_module.load().data_dir == (tmp_path / "store").resolve()
    assert config_module.load(data_dir=tmp_path / "elsewhere").data_dir == (tmp_path / "elsewhere").resolve()


@pytest.mark.parametrize("text, message", [
    ("[warehouse]\nthreds = 2\n", "warehouse.threds: unknown key; did you mean `threads`?"),
    ("[warehose]\n", "warehose: unknown key; did you mean `warehouse`?"),
    ("[warehouse]\nthreads = \"two\"\n", "warehouse.threads: expected an integer, got str 'two'"),
    ("[ingest]\nbatch_bytes = true\n", "ingest.batch_bytes: expected an integer, got a boolean"),
    ("[analytics]\ndefault_timezone = \"Mars/Base\"\n", "analytics.default_timezone: 'Mars/Base' is not a known IANA timezone"),
    ("[sources.x]\nkind = \"ftp\"\n", "sources.x.kind: expected \"feed\", \"files\" or \"outbox\", got 'ftp'"),
    ("[sources.x]\nkind = \"files\"\n", "sources.x.path: required for a files source"),
    ("[sources.x]\nkind = \"files\"\npath = \"in\"\nurl = \"http://a\"\n", "sources.x.url: unknown key"),
    ("[sources.f]\nkind = \"feed\"\nurl = \"ftp://x\"\ntoken_env = \"T\"\n", "sources.f.url: expected an http:// or https:// URL"),
    ("[sources.f]\nkind = \"feed\"\nurl = \"https://x\"\ntoken = \"abc\"\n", "sources.f.token: unknown key; did you mean `token_env`?"),
    ("warehouse = [\n", "not valid TOML"),
    # zoneinfo lists the host's `localtime`; Pulse's one list (tzdata's IANA names) does not, so
    # it fails here at start instead of in the middle of `pulse build`.
    ("[analytics]\ndefault_timezone = \"localtime\"\n", "analytics.default_timezone: 'localtime' is not a known IANA timezone"),
    ("[schedule]\ntimezone = \"posixrules\"\n", "schedule.timezone: 'posixrules' is not a known IANA timezone"),
    ("[warehouse]\nmemory_limit = \"lots\"\n", "warehouse.memory_limit: expected a size like"),
])
def test_mistakes_name_the_key_and_the_fix(tmp_path, text, message):
    with pytest.raises(ConfigError) as raised:
        load_text(tmp_path, text)
    assert message in str(raised.value)


def test_secrets_come_only_from_the_environment(tmp_path, monkeypatch):
    config = load_text(tmp_path, '[sources.f]\nkind = "feed"\nurl = "https://feed.example"\ntoken_env = "PULSE_FEED_TOKEN"\n')
    monkeypatch.delenv("PULSE_FEED_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="sources.f.token_env: environment variable PULSE_FEED_TOKEN is not set"):
        config_module.check_secrets(config)
    monkeypatch.setenv("PULSE_FEED_TOKEN", "s3cret")
    config_module.check_secrets(config)
    assert config_module.secret("PULSE_FEED_TOKEN", "sources.f.token_env") == "s3cret"


def test_a_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config_module.load(tmp_path / "nope.toml")

"""Channel configuration: every mistake fails at start with its key and the fix."""

from __future__ import annotations

import pytest

from pulse.core.config import ConfigError, check_secrets, from_dict

X = {"api_key_env": "A", "api_secret_env": "B", "access_token_env": "C", "access_secret_env": "D"}


@pytest.mark.parametrize("channels,message", [
    ({"slak": {}}, r"cities\.sydney\.channels\.slak: unknown key; did you mean `slack`\?"),
    ({"slack": {"channel": "#m"}}, r"cities\.sydney\.channels\.slack\.token_env: required for a slack channel"),
    ({"slack": {"channel": "#m", "token_env": "T", "mode": "automatic"}}, r"\.mode: expected \"auto\" or \"approval\""),
    ({"slack": {"channel": "#m", "token_env": "T", "post": "3 days before"}}, r"\.post: expected \"on_create\" or \"days_before:N\""),
    ({"slack": {"channel": "#m", "token_env": "T", "enabled_since": "2026-11-01"}}, r"\.enabled_since: expected an RFC 3339 instant"),
    ({"slack": {"channel": "#m", "token_env": "T", "token": "xoxb-secret"}}, r"\.token: unknown key; did you mean `token_env`\?"),
    ({"x": {**X, "template": "{title"}}, r"\.template: unmatched '\{'"),
    ({"facebook": {"page_id": "1", "page_token_env": "P", "graph_version": "3.1"}}, r"\.graph_version: expected a Graph API version like \"v21\.0\""),
    ({"facebook": {"page_id": "1", "page_token_env": "P", "base_url": "graph.facebook.com"}}, r"\.base_url: expected an http\(s\) URL"),
])
def test_bad_channel_config(channels, message):
    with pytest.raises(ConfigError, match=message):
        from_dict({"cities": {"sydney": {"channels": channels}}})


def test_missing_secret_names_the_key(monkeypatch):
    monkeypatch.delenv("SYD_TOKEN", raising=False)
    config = from_dict({"cities": {"sydney": {"channels": {"slack": {"channel": "#m", "token_env": "SYD_TOKEN"}}}}})
    with pytest.raises(ConfigError, match=r"cities\.sydney\.channels\.slack\.token_env: environment variable SYD_TOKEN is not set"):
        check_secrets(config, only="cities")


def test_defaults():
    config = from_dict({"cities": {"sydney": {"channels": {"facebook": {"page_id": "1", "page_token_env": "P"}}}}})
    channel = config.cities[0].channels[0]
    assert (channel.mode, channel.post, channel.graph_version, channel.rate) == ("approval", "on_create", "v21.0", 10.0)
    assert from_dict({}).cities == ()

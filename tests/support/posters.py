"""For the poster tests: channel config pointing at the fake APIs, meetup events, loading them, config files."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from urllib.parse import urlencode

from jobs.ingest.run import ingest
from posters.slack_approvals import signature
from tests.support.records import envelope, write_lines

SECRETS = {
    "SYD_SLACK_TOKEN": "test-token",
    "SYD_X_KEY": "x-api-key", "SYD_X_SECRET": "x-api-secret",
    "SYD_X_TOKEN": "x-access-token", "SYD_X_TOKEN_SECRET": "x-access-secret",
    "SYD_FB_TOKEN": "fb-page-token",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
}


_ids = itertools.count(1)


def channels(servers, *, city: str = "sydney", mode: str = "auto", post: str = "on_create",
             enabled_since: str = "2020-01-01T00:00:00Z", kinds=("slack", "x", "facebook"), rate: float = 6000,
             approvals_channel: str = "", **extra) -> dict:
    """`make_config(**channels(...))`: the city's channels pointed at the fake servers."""
    common = {"mode": mode, "post": post, "rate_per_minute": rate, **({"enabled_since": enabled_since} if enabled_since else {}), **extra}
    table = {}
    if "slack" in kinds:
        table["slack"] = {"channel": "#meetups", "token_env": "SYD_SLACK_TOKEN", "base_url": servers["slack"].base_url, **common}
    if "x" in kinds:
        table["x"] = {"api_key_env": "SYD_X_KEY", "api_secret_env": "SYD_X_SECRET", "access_token_env": "SYD_X_TOKEN",
                      "access_secret_env": "SYD_X_TOKEN_SECRET", "base_url": servers["x"].url, **common}
    if "facebook" in kinds:
        table["facebook"] = {"page_id": servers["facebook"].page_id, "page_token_env": "SYD_FB_TOKEN",
                             "base_url": servers["facebook"].url, **common}
    city_table = {"channels": table}
    if approvals_channel:
        city_table["approvals_slack_channel"] = approvals_channel
    return {
        "cities": {city: city_table},
        "publisher": {"allow_hosts_for_tests": ["127.0.0.1"], "timeout_seconds": 2.0, "backoff_base_seconds": 0.05,
                      "backoff_max_seconds": 0.2, "max_attempts": 4, "slack_signing_secret_env": "SLACK_SIGNING_SECRET"},
    }


def utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def meetup_events(event_id: str, *, created: dt.datetime, starts: dt.datetime, city: str = "sydney",
                  title: str = "Python Meetup", venue: str = "Level 3, 1 George St", url: str | None = None) -> list[dict]:
    data = {"event_id": event_id, "title": title, "starts_at": utc(starts), "venue": venue,
            "url": url if url is not None else f"https://platform.example.com/e/{event_id}"}
    return [envelope(f"ev{next(_ids)}", "event:created", data=data, time=utc(created), city=city)]


def city_event(city: str = "sydney", name: str = "Sydney", tz: str = "Australia/Sydney",
               time: str = "2020-01-01T00:00:00Z") -> dict:
    return envelope(f"city{next(_ids)}", "city:upserted", data={"name": name, "timezone": tz}, time=time, city=city)


def load(config, tmp_path, records) -> None:
    path = write_lines(tmp_path / f"batch{next(_ids)}.ndjson", records)
    ingest(config, files=[str(path)])


def toml(table: dict, prefix: str = "") -> str:
    """Just enough TOML for a config: scalars and lists first, then sub-tables."""
    import json
    lines, subtables = [], []
    for key, value in table.items():
        if isinstance(value, dict):
            subtables.append((key, value))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    text = (f"[{prefix}]\n" if prefix and lines else "") + "\n".join(lines) + ("\n" if lines else "")
    for key, value in subtables:
        text += toml(value, f"{prefix}.{key}" if prefix else key)
    return text


def config_file(tmp_path, raw: dict):
    """(Config, path of its TOML file) with the warehouse in tmp_path: for tests that run the CLI."""
    from pulse.core import config as config_module
    raw = {"warehouse": {"data_dir": str(tmp_path / "warehouse"), "lock_timeout_seconds": 30}, **raw}
    path = tmp_path / "pulse.toml"
    path.write_text(toml(raw), encoding="utf-8")
    return config_module.load(path), path


def click_request(post_id: str, action: str, user: str, *, ts: int | None = None, secret: str | None = None,
                  message: tuple[str, str] | None = None, trigger_id: str = "") -> tuple[dict, bytes]:
    """(headers, body) of a signed Slack button click; `message` is the (channel id, ts) clicked."""
    payload = {"type": "block_actions", "user": {"id": user}, "actions": [{"action_id": action, "value": post_id}]}
    if message:
        payload["container"] = {"type": "message", "channel_id": message[0], "message_ts": message[1]}
    if trigger_id:
        payload["trigger_id"] = trigger_id
    return signed(payload, ts=ts, secret=secret)


def reason_submission(view: dict, user: str, reason: str) -> tuple[dict, bytes]:
    """(headers, body) of a signed submission of the reject form `view` (as views.open got it)."""
    payload = {"type": "view_submission", "user": {"id": user},
               "view": {"callback_id": view["callback_id"], "private_metadata": view["private_metadata"],
                        "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}}}}
    return signed(payload)


def signed(payload: dict, *, ts: int | None = None, secret: str | None = None) -> tuple[dict, bytes]:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time()) if ts is None else ts)
    headers = {"X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": signature(secret or SECRETS["SLACK_SIGNING_SECRET"], timestamp, body)}
    return headers, body


PASSWORD = "correct horse battery staple"

"""Every key of every registered section, fed a value of the wrong type, fails at start with one
line naming the key (and through the CLI: exit 2, no traceback).

The walk covers every `Settings` model Pulse defines: a model added later and not reachable
from here fails `test_the_walk_covers_every_settings_model`, so the walk cannot fall behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
import typing

import pytest

from pulse.core import config as config_module
from pulse.core.config import ConfigError, Settings

# Tables whose parser is hand-written (a table of named things), with the keys a valid one needs.
SOURCES = {"files": {"path": "exports"}, "feed": {"url": "https://feed.example.org", "token_env": "T"},
           "outbox": {"dsn": "host=db dbname=platform user=reader"}}
CHANNELS = {"slack": {"channel": "#meetups", "token_env": "T"},
            "x": {"api_key_env": "A", "api_secret_env": "B", "access_token_env": "C", "access_secret_env": "D"},
            "facebook": {"page_id": "123", "page_token_env": "T"}}
FIXED = {"name", "kind", "city", "slug", "channels"}
"""Keys given by the file's structure (a table's own name), never written as keys."""


def _all_models():
    found, todo = set(), [Settings]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return found


def _section_model(section):
    for cell in section.parse.__closure__ or ():
        if isinstance(cell.cell_contents, type) and issubclass(cell.cell_contents, Settings):
            return cell.cell_contents
    return None


def _accepted(annotation) -> set[type]:
    """The Python types a strict field of `annotation` takes from TOML."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_accepted(arg) for arg in typing.get_args(annotation)))
    if origin is typing.Literal:
        return {type(value) for value in typing.get_args(annotation)}
    if origin in (tuple, list):
        return {list}
    if origin is dict or (isinstance(annotation, type) and issubclass(annotation, Settings)):
        return {dict}
    if annotation is float:
        return {int, float}
    if annotation is type(None):
        return set()
    return {annotation}


def wrong_value(annotation):
    for candidate in (12345, "wrong-type", [[1]], {"no_such_key": 1}):
        if type(candidate) not in _accepted(annotation):
            return candidate
    raise AssertionError(f"no wrong value for {annotation}")


def _nested(annotation):
    """The Settings model a field holds (directly, in a union, or as dict values), and whether in a dict."""
    if typing.get_origin(annotation) is dict:
        value = typing.get_args(annotation)[1]
        return (value, True) if isinstance(value, type) and issubclass(value, Settings) else (None, False)
    for arg in [annotation, *typing.get_args(annotation)]:
        if isinstance(arg, type) and issubclass(arg, Settings):
            return arg, False
    return None, False


def cases():
    """(dotted key, the raw document with the wrong value at that key, model)."""
    found = []

    def walk(model, path: list[str], make):
        """`make(table)` puts a table for `model` at `path` into a new document."""
        for field_name, info in model.model_fields.items():
            if field_name in FIXED:
                continue
            found.append((".".join([*path, field_name]), make({field_name: wrong_value(info.annotation)}), model))
            inner, in_dict = _nested(info.annotation)
            if inner is not None:
                sub_path = [*path, field_name, "perth"] if in_dict else [*path, field_name]
                walk(inner, sub_path, (lambda table, f=field_name, d=in_dict, m=make:
                                       m({f: {"perth": table} if d else table})))

    def merged(base):
        return lambda table: {**base, **table}

    for name, section in config_module.sections().items():
        model = _section_model(section)
        if name == "publisher":
            from posters.settings import PublisherSettings as model
        if model is not None:
            walk(model, [name], lambda table, n=name: {n: table})
    from jobs.ingest.sources import kinds as source_kinds
    from posters.channels import kinds as channel_kinds
    from posters.settings import CitySettings

    for kind, required in SOURCES.items():
        settings = source_kinds()[kind].settings
        walk(settings, ["sources", "s"], lambda table, k=kind, r=required: {"sources": {"s": {"kind": k, **r, **table}}})
    for kind, required in CHANNELS.items():
        settings = channel_kinds()[kind].settings
        walk(settings, ["cities", "sydney", "channels", kind],
             lambda table, k=kind, r=required: {"cities": {"sydney": {"channels": {k: {**r, **table}}}}})
    walk(CitySettings, ["cities", "sydney"], lambda table: {"cities": {"sydney": {**table}}})
    return found


CASES = cases()


def test_the_walk_covers_every_settings_model():
    walked = {model for _, _, model in CASES}
    bases = {Settings}
    from jobs.ingest.sources.base import SourceSettings
    from posters.channels.base import ChannelSettings

    bases |= {SourceSettings, ChannelSettings}  # abstract: walked through each kind's own model
    missing = {f"{m.__module__}.{m.__name__}" for m in _all_models() - bases - walked if m.model_fields}
    assert not missing, f"models the walk does not reach: {sorted(missing)}"
    assert len(CASES) > 80


@pytest.mark.parametrize("key,raw", [(key, raw) for key, raw, _ in CASES], ids=[key for key, _, _ in CASES])
def test_a_wrong_type_fails_with_one_line_naming_the_key(key, raw, tmp_path):
    with pytest.raises(ConfigError) as failure:
        config_module.from_dict(raw, base_dir=tmp_path)
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith(key + ":") or message.startswith(key + "."), message


@pytest.mark.parametrize("toml,key", [
    ('[warehouse]\nthreads = "many"\n', "warehouse.threads"),
    ('[warehouse]\nmemory_limit = "lots"\n', "warehouse.memory_limit"),
    ('[schedule.refresh]\nevery_seconds = "often"\n', "schedule.refresh.every_seconds"),
    ('[status]\nmax_data_age_hours = true\n', "status.max_data_age_hours"),
])
def test_the_cli_says_it_in_one_line_with_exit_2(tmp_path, toml, key):
    (tmp_path / "pulse.toml").write_text(toml)
    for command in (["status"], ["run", "refresh"], ["sources"]):
        result = subprocess.run([sys.executable, "-m", "pulse", *command], cwd=tmp_path, capture_output=True,
                                text=True, timeout=60, env={**os.environ, "PULSE_CONFIG": ""})
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"pulse: config: {key}:") and result.stderr.count("\n") == 1, result.stderr
        assert result.stdout == ""

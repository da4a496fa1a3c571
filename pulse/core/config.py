"""Pulse configuration: one TOML file over defaults, each table owned by the module that uses it.

Where the file is: `--config`, else `$PULSE_CONFIG`, else `./pulse.toml` when it exists, else
none at all (every key has a default, so `pulse` runs with no file). Which tables there are is
not written here: every plugin registers the sections it owns (`pulse_config_sections`), each
with a pydantic model (unknown keys forbidden, no silent type coercion) or its own parser for
a table of named things (`[sources.NAME]`, `[cities.SLUG]`). Whatever goes wrong is reported
as one line: the dotted key, what was expected, and a "did you mean" when a name is close.

Secrets never live in the file: a key ending in `_env` names the environment variable that
holds the secret, and `secret()` reads it; `check_secrets` reads every such key of the
configuration at start, so a missing one fails before any work is done.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from collections.abc import Callable, Iterator

from pydantic import BaseModel, ConfigDict, ValidationError

from pulse.core import registry


class ConfigError(Exception):
    """A configuration problem, phrased as `key: what is wrong; what to do`."""


class FieldProblem(ValueError):
    """Raised by a model's validators: `field` names the key (below the model's own) at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class Settings(BaseModel):
    """Base of every configuration model: frozen, strict about types, no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    what: ClassVar[str] = ""
    """How an error message names a table of this model, e.g. "a files source"."""

    def secret_keys(self) -> Iterator[tuple[str, str]]:
        """(key, environment variable) of every secret this table names (its set `*_env` keys)."""
        for name in type(self).model_fields:
            if name.endswith("_env") and getattr(self, name):
                yield name, getattr(self, name)


@dataclass(frozen=True)
class ConfigSection:
    """A top-level table of the file, as a plugin registers it."""

    name: str
    parse: Callable[[Any, str], Any]
    """(the raw TOML value, or None when absent; the key) → the section's value."""
    secrets: Callable[[Any], Iterator[tuple[str, str]]] = lambda value: iter(())
    """(dotted key, environment variable) of every secret the parsed section names."""


def model_section(name: str, model: type[Settings]) -> ConfigSection:
    """A section that is one table of `model`."""
    return ConfigSection(name, lambda raw, key: validate(model, {} if raw is None else raw, key),
                         secrets=lambda value: ((f"{name}.{k}", env) for k, env in value.secret_keys()))


def validate(model: type[Settings], raw: Any, key: str, **fixed: Any) -> Any:
    """`raw` (a TOML table) as a `model`, or a ConfigError naming the first problem by its key.
    `fixed` adds values that do not come from the file (e.g. a table's own name)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: expected a table, got {_describe_value(raw)}")
    try:
        return model.model_validate({**raw, **fixed})
    except ValidationError as error:
        raise ConfigError(explain(error, model, key)) from None


def explain(error: ValidationError, model: type[Settings], key: str) -> str:
    """The first problem pydantic found, as `dotted.key: what was expected`. An unknown key is
    told first: a misspelt key (`token` for `token_env`) is why the real one seems missing."""
    problems = error.errors(include_url=False)
    problem = min(problems, key=lambda p: p["type"] != "extra_forbidden")
    loc = [str(part) for part in problem["loc"]]
    kind, given, ctx = problem["type"], problem.get("input"), problem.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, FieldProblem):
        return f"{'.'.join([key, *loc, cause.field])}: {cause.message}"
    where = ".".join([key, *loc])
    if kind == "extra_forbidden":
        return where + ": unknown key" + did_you_mean(loc[-1], model.model_fields if len(loc) == 1 else ())
    if kind == "missing":
        return f"{where}: required" + (f" for {model.what}" if model.what else "")
    expected = _EXPECTED.get(kind)
    if expected:
        if isinstance(given, bool):
            return f"{where}: expected {expected}, got a boolean"
        return f"{where}: expected {expected}, got {_describe_value(given)}"
    if kind == "literal_error":
        choices = str(ctx.get("expected", "")).replace("'", '"')
        return f"{where}: expected {choices}, got {given!r}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()))
        sign = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        return f"{where}: expected a number {sign} {bound}, got {given!r}"
    if cause is not None:
        return f"{where}: {cause}"
    return f"{where}: {problem['msg']}"


_EXPECTED = {"int_type": "an integer", "int_parsing": "an integer", "float_type": "a number",
             "string_type": "a string", "bool_type": "true or false", "tuple_type": "a list",
             "list_type": "a list", "dict_type": "a table", "model_type": "a table"}


def _describe_value(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def did_you_mean(name: str, allowed) -> str:
    """"; did you mean `x`?" for a close name, else the allowed names (empty when none)."""
    allowed = sorted(allowed)
    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        return f"; did you mean `{close[0]}`?"
    return f"; allowed here: {', '.join(allowed)}" if allowed else ""


def reject_unknown(table: dict, allowed, prefix: str) -> None:
    """For hand-parsed tables: the first key of `table` not in `allowed`, as a ConfigError."""
    for name in table:
        if name not in allowed:
            raise ConfigError(f"{prefix}{name}: unknown key{did_you_mean(name, allowed)}")


@dataclass(frozen=True)
class Config:
    """The whole configuration: each registered section's value (`config.warehouse`, `config.sources`, ...)."""

    values: dict[str, Any]
    base_dir: Path = field(default_factory=Path.cwd)
    """Folder relative paths in the file are taken from (the file's own folder)."""
    path: Path | None = None
    """The file this came from, or None for the defaults."""

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"no configuration section {name!r}")

    @property
    def data_dir(self) -> Path:
        return (self.base_dir / self.warehouse.data_dir).resolve()

    def replace(self, **values: Any) -> Config:
        """A copy with some sections' values replaced."""
        unknown = set(values) - set(self.values)
        if unknown:
            raise KeyError(f"no configuration section {sorted(unknown)}")
        return Config({**self.values, **values}, self.base_dir, self.path)

    def with_data_dir(self, data_dir: str | os.PathLike) -> Config:
        return self.replace(warehouse=self.warehouse.model_copy(update={"data_dir": str(Path(data_dir).resolve())}))


def sections() -> dict[str, ConfigSection]:
    return registry.collect("pulse_config_sections")


def load(path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None) -> Config:
    """Read the configuration; `data_dir` (from `--data-dir`) overrides `warehouse.data_dir`."""
    chosen = path or os.environ.get("PULSE_CONFIG") or None
    if chosen is None and Path("pulse.toml").is_file():
        chosen = "pulse.toml"
    raw: dict = {}
    config_path = None
    base_dir = Path.cwd()
    if chosen is not None:
        config_path = Path(chosen).resolve()
        if not config_path.is_file():
            raise ConfigError(f"config file {chosen} does not exist; pass --config with an existing file, or unset PULSE_CONFIG")
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{chosen}: not valid TOML: {error}") from None
        except OSError as error:
            raise ConfigError(f"{chosen}: cannot read: {error.strerror}") from None
        base_dir = config_path.parent
    config = from_dict(raw, base_dir=base_dir, path=config_path)
    return config.with_data_dir(data_dir) if data_dir is not None else config


def from_dict(raw: dict, base_dir: Path | None = None, path: Path | None = None) -> Config:
    """The configuration of a parsed TOML document (every section defaulted when absent)."""
    known = sections()
    reject_unknown(raw, known, prefix="")
    values = {name: section.parse(raw.get(name), name) for name, section in known.items()}
    return Config(values, base_dir or Path.cwd(), path)


def secret(env_name: str, key: str) -> str:
    """The secret held by environment variable `env_name`, named by config key `key`."""
    value = os.environ.get(env_name, "")
    if not value:
        raise ConfigError(f"{key}: environment variable {env_name} is not set; export it with the secret "
                          "(secrets are never read from the config file)")
    return value


def secret_keys(config: Config, *, only: str | None = None) -> list[tuple[str, str]]:
    """(dotted key, environment variable) of every secret the configuration names, or those of
    one section (`only`)."""
    found = []
    for name, section in sections().items():
        if only is None or name == only:
            found.extend(section.secrets(config.values[name]))
    return found


def check_secrets(config: Config, *, only: str | None = None) -> None:
    """Fail at start, not half way through a run, when a configured secret is missing."""
    for key, env_name in secret_keys(config, only=only):
        secret(env_name, key)

"""`pulse plugin check`: plugin.json against its JSON Schema and against the code.

Every fact the manifest states is compared with where the code keeps it, never with a second
list kept by hand:
- `version`: the installed package's (and pyproject.toml's, in a source tree);
- `routes`: the app `pulse serve` builds (`pulse.web.app.create_app`, its `url_map` and gates);
- `events.listens`: the event types the metrics read (the names the analytics models pick),
  each one the contract defines;
- `events.emits`: `pulse.core.emit.EMITS`;
- `external_domains`: the API hosts of every channel kind (`ChannelKind.hosts`), both ways: a
  host no domain covers, and a domain no client calls;
- `permissions`: what reading the listened types needs (`pulse.core.manifest.permission_for`);
- `commands`: the registered commands; `schedule`: the registered jobs and their default times.
"""

from __future__ import annotations

import json
import tempfile
import tomllib
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from pulse.core import manifest as manifest_module

SOURCE_ROOT = Path(__file__).resolve().parents[2]
"""The repository, when Pulse runs from a source tree (pyproject.toml there)."""


@dataclass(frozen=True)
class Finding:
    key: str
    """The manifest's key at fault, dotted (`routes`, `events.emits`, `version`)."""
    problem: str
    fix: str

    def line(self) -> str:
        return f"plugin.json {self.key}: {self.problem}; {self.fix}"


@dataclass
class Facts:
    """What the code does, as the manifest would declare it."""

    versions: dict[str, str]
    """Where a version is stated (the installed package, pyproject.toml) → that version."""
    routes: dict
    read_types: dict[str, set[str]]
    """Event type → the models that read it."""
    contract_types: set[str]
    emitted_types: set[str]
    hosts: dict[str, tuple[str, ...]]
    """Channel kind → the API hosts its client connects to."""
    commands: set[str]
    schedule: list[dict[str, str]] = field(default_factory=list)


def code_facts() -> Facts:
    """Read the facts from the registry and the packages (builds the web app over a scratch folder)."""
    from jobs.ingest.contract import EVENT_TYPES
    from jobs.runner import jobs
    from pulse.core import config as config_module, emit, registry
    from pulse.web.app import create_app, registered_extensions

    versions = {"the installed package": metadata.version("pulse")}
    pyproject = SOURCE_ROOT / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == "pulse":
            versions["pyproject.toml"] = str(project.get("version"))
    with tempfile.TemporaryDirectory(prefix="pulse-check-") as scratch:
        config = config_module.from_dict({"warehouse": {"data_dir": scratch}}, base_dir=Path(scratch))
        # The registered extensions, as `pulse serve` mounts them, without its refusal to start.
        app = create_app(config, secret_key="plugin-check-" + "x" * 32, extensions=registered_extensions())
        routes = manifest_module.served_routes(app)
        defaults = config.schedule
    read_types: dict[str, set[str]] = {}
    for entry in sorted((resources.files("analytics") / "models").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            for type_name in manifest_module.types_named_in(entry.read_text(encoding="utf-8")):
                read_types.setdefault(type_name, set()).add(f"analytics/models/{entry.name}")
    kinds = registry.collect("pulse_channel_kinds")
    schedule = [{"job": name, "cron": getattr(defaults, name, ""), "description": job.description}
                for name, job in jobs().items()]
    return Facts(versions=versions, routes=routes, read_types=read_types, contract_types=set(EVENT_TYPES),
                 emitted_types=set(emit.EMITS), hosts={name: tuple(kind.hosts) for name, kind in kinds.items()},
                 commands=set(registry.collect("pulse_commands")), schedule=schedule)


def load(path: str | Path | None) -> tuple[dict | None, list[Finding]]:
    """The manifest at `path` (None: the one Pulse ships), or the finding that it cannot be read."""
    try:
        if path is None:
            text = resources.files("pulse.core").joinpath("plugin.json").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [Finding("(file)", f"cannot be read: {getattr(error, 'strerror', None) or error}",
                              "give the path of a UTF-8 JSON file")]
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return None, [Finding("(file)", f"not JSON: {error.msg} at line {error.lineno} column {error.colno}",
                              "fix the JSON")]
    if not isinstance(document, dict):
        return None, [Finding("(file)", "not a JSON object", "the manifest is one object with id, name, version, ...")]
    return document, []


def check(document: dict, facts: Facts | None = None) -> list[Finding]:
    """Every way `document` differs from its schema or from the code; empty when it is right."""
    facts = facts or code_facts()
    found = schema_findings(document)
    found += _version(document, facts)
    found += [Finding("routes", problem, fix) for _, problem, fix in
              manifest_module.route_findings(facts.routes, manifest_module.declared_routes(document))]
    found += _events(document, facts)
    found += _domains(document, facts)
    found += _permissions(document, facts)
    found += _commands(document, facts)
    found += _schedule(document, facts)
    return found


def schema_findings(document: dict) -> list[Finding]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(manifest_module.schema())
    found = []
    for error in sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path]):
        path = [str(part) for part in error.absolute_path]
        if error.validator == "required" and isinstance(error.instance, dict):
            for name in error.validator_value:
                if name not in error.instance:
                    found.append(Finding(".".join([*path, name]), "is missing", "add it (see plugin.schema.json)"))
            continue
        where = ".".join(path) or "(top)"
        if error.validator == "pattern":
            problem = f"{_short(json.dumps(error.instance))} is not of the form plugin.schema.json gives for it"
        else:
            problem = _short(error.message)
        found.append(Finding(where, problem, "make it match plugin.schema.json"))
    return found


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _strings(document: dict, *keys: str) -> list[str]:
    value: Any = document
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _version(document: dict, facts: Facts) -> list[Finding]:
    declared = document.get("version")
    return [Finding("version", f"is {declared!r} but {where} is {version!r}", f"set it to {json.dumps(version)}")
            for where, version in facts.versions.items() if declared != version]


def _events(document: dict, facts: Facts) -> list[Finding]:
    found = []
    listens = set(_strings(document, "events", "listens"))
    for type_name in sorted(set(facts.read_types) - listens):
        found.append(Finding("events.listens", f"{', '.join(sorted(facts.read_types[type_name]))} reads "
                             f"{type_name!r}, which is not listened to", f"add {json.dumps(type_name)}"))
    for type_name in sorted(listens - set(facts.read_types)):
        found.append(Finding("events.listens", f"{type_name!r} is listened to but no model reads it",
                             "remove it (or read it in analytics/models)"))
    for type_name in sorted(set(facts.read_types) - facts.contract_types):
        found.append(Finding("events.listens", f"{type_name!r} is read by the models but the platform's contract "
                             "defines no such type", "read only the contract's types (jobs/ingest/contract.py)"))
    emits = set(_strings(document, "events", "emits"))
    for type_name in sorted(facts.emitted_types - emits):
        found.append(Finding("events.emits", f"Pulse emits {type_name!r}, which is not declared",
                             f"add {json.dumps(type_name)}"))
    for type_name in sorted(emits - facts.emitted_types):
        found.append(Finding("events.emits", f"{type_name!r} is declared but Pulse never emits it",
                             "remove it (pulse/core/emit.py lists what Pulse emits)"))
    return found


def _covers(domain: str, host: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _domains(document: dict, facts: Facts) -> list[Finding]:
    found = []
    domains = [domain.lower().rstrip(".") for domain in _strings(document, "external_domains")]
    every_host = {host: kind for kind, hosts in facts.hosts.items() for host in hosts}
    for host, kind in sorted(every_host.items()):
        if not any(_covers(domain, host) for domain in domains):
            found.append(Finding("external_domains", f"the {kind} client connects to {host!r}, which no declared "
                                 "domain covers", f"add {json.dumps(host)}"))
    for domain in domains:
        if not any(_covers(domain, host) for host in every_host):
            found.append(Finding("external_domains", f"{domain!r} is declared but no client Pulse builds calls it",
                                 "remove it (ask for no more than the code uses)"))
    return found


def _permissions(document: dict, facts: Facts) -> list[Finding]:
    found = []
    declared = set(_strings(document, "permissions"))
    needed: dict[str, set[str]] = {}
    for type_name in facts.read_types:
        permission = manifest_module.permission_for(type_name)
        if permission is None:
            found.append(Finding("permissions", f"no platform permission covers reading {type_name!r}",
                                 "read only types of the namespaces city, user, event and blog"))
        else:
            needed.setdefault(permission, set()).add(type_name)
    for permission in sorted(set(needed) - declared):
        found.append(Finding("permissions", f"reading {', '.join(sorted(needed[permission]))} needs {permission!r}",
                             f"add {json.dumps(permission)}"))
    for permission in sorted(declared - set(needed)):
        found.append(Finding("permissions", f"{permission!r} is requested but Pulse reads nothing it covers",
                             "remove it"))
    return found


def _commands(document: dict, facts: Facts) -> list[Finding]:
    declared = set(_strings(document, "commands"))
    found = [Finding("commands", f"`pulse {name}` exists but is not declared", f"add {json.dumps(name)}")
             for name in sorted(facts.commands - declared)]
    found += [Finding("commands", f"{name!r} is declared but `pulse {name}` does not exist", "remove it")
              for name in sorted(declared - facts.commands)]
    return found


def _schedule(document: dict, facts: Facts) -> list[Finding]:
    declared = {entry.get("job"): entry for entry in document.get("schedule") or [] if isinstance(entry, dict)}
    found = []
    for job in facts.schedule:
        entry = declared.get(job["job"])
        if entry is None:
            found.append(Finding("schedule", f"job {job['job']!r} runs on [schedule] but is not declared",
                                 f"add {json.dumps(job)}"))
        elif entry.get("cron") != job["cron"]:
            found.append(Finding("schedule", f"job {job['job']!r} runs at {job['cron']!r} by default, declared "
                                 f"{entry.get('cron')!r}", f"set its cron to {json.dumps(job['cron'])}"))
    for name in sorted(set(declared) - {job["job"] for job in facts.schedule}, key=str):
        found.append(Finding("schedule", f"job {name!r} is declared but there is no such job", "remove it"))
    return found

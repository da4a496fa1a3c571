"""`pulse plugin check | bundle | verify`: Pulse as the platform sees it (a thin layer over `pulse.plugin`)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from pulse.cli.common import fail
from pulse.core import registry
from pulse.core.output import printable


@click.group("plugin")
def plugin_group() -> None:
    """The plugin manifest (plugin.json), checked against the code, and the marketplace bundle."""


@plugin_group.command("check")
@click.option("--manifest", "path", type=click.Path(dir_okay=False),
              help="Check this manifest file instead of the one Pulse ships.")
def check_command(path: str | None) -> None:
    """Check plugin.json against its schema and the code: routes, events, domains, permissions,
    commands, jobs, version. Prints each finding with what to change; exits 1 on any."""
    from pulse.plugin import check

    document, findings = check.load(path)
    if document is not None:
        findings = check.check(document)
    for finding in findings:
        click.echo(printable(finding.line()))
    if findings:
        count = len(findings)
        click.echo(f"{count} finding{'' if count == 1 else 's'}: the manifest and the code disagree", err=True)
        sys.exit(1)
    click.echo(f"plugin.json: matches the code ({path or 'the shipped manifest'})", err=True)


@plugin_group.command("bundle")
@click.option("--out", "out", default="dist", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the wheel and marketplace-entry.json.")
@click.option("--tests", "tests", metavar="ARGS", default=None,
              help="Run the test suite with these pytest arguments (e.g. \"-m 'not slow'\", or \"\" for all) "
                   "and put the result in the entry.")
def bundle_command(out: str, tests: str | None) -> None:
    """Build the wheel and print its marketplace entry (JSON): id, version, bundle, sha256- hash,
    permissions and domains requested, and the vetting checks' results. Exits 1 when a check failed."""
    from pulse.plugin import bundle

    try:
        wheel, entry = bundle.bundle(Path(out), tests=None if tests is None else shlex.split(tests))
    except bundle.BundleError as error:
        fail(str(error))
    text = json.dumps(entry, indent=2, ensure_ascii=False)
    (Path(out) / "marketplace-entry.json").write_text(text + "\n", encoding="utf-8")
    click.echo(text)
    click.echo(f"wrote {wheel} and {Path(out) / 'marketplace-entry.json'}", err=True)
    if any(check.get("ran") and not check.get("passed") for check in entry["checks"].values()):
        sys.exit(1)


@plugin_group.command("verify")
@click.argument("entry_path", metavar="ENTRY.json", type=click.Path(dir_okay=False))
@click.argument("wheel", metavar="WHEEL", type=click.Path(dir_okay=False))
def verify_command(entry_path: str, wheel: str) -> None:
    """Recompute WHEEL's hash and say whether it is the one ENTRY.json lists (exit 0) or not (exit 1)."""
    from pulse.plugin import bundle

    try:
        same, message = bundle.verify(Path(entry_path), Path(wheel))
    except bundle.BundleError as error:
        fail(printable(str(error)))
    click.echo(printable(message))
    if not same:
        sys.exit(1)


@registry.hookimpl
def pulse_commands():
    return [plugin_group]

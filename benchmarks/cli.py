"""Benchmark: CPU time of light `pulse` commands (each a fresh process, as cron and a person run them).

The baseline, measured in the same run, is the interpreter doing nothing (`python -c pass`) and
importing click and pydantic (what every command needs); each command's figure is its median
CPU time (user + system, of the process and its children) over `--runs` runs, and its ratio to
the bare interpreter. The target for `pulse --help` is at most 0.3 s of CPU.

    .venv/bin/python benchmarks/cli.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_HELP_SECONDS = 0.3


def cpu_seconds(argv: list[str], env: dict[str, str], cwd: str) -> float:
    """CPU time (user + system) one run of `argv` took, from the kernel's accounting of the child."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    scratch = tempfile.mkdtemp(prefix="pulse-bench-cli-")
    env = {**os.environ, "PULSE_CONFIG": "", "COLUMNS": "100"}
    pulse = [python, "-m", "pulse", "--data-dir", str(Path(scratch) / "data")]
    subprocess.run([*pulse, "run", "snapshot"], env=env, cwd=scratch, check=True)  # a data folder to read
    cases = [
        ("python -c pass (baseline)", [python, "-c", "pass"]),
        ("import click, pydantic", [python, "-c", "import click, pydantic"]),
        ("pulse --help", [python, "-m", "pulse", "--help"]),
        ("pulse run --help", [python, "-m", "pulse", "run", "--help"]),
        ("pulse metrics --help", [python, "-m", "pulse", "metrics", "--help"]),
        ("pulse status", [*pulse, "status"]),
        ("pulse run snapshot", [*pulse, "run", "snapshot"]),
    ]
    figures = {}
    for _ in range(args.runs):  # interleaved, so a busy moment of the machine hits every case alike
        for name, argv in cases:
            figures.setdefault(name, []).append(cpu_seconds(argv, env, scratch))
    base = statistics.median(figures[cases[0][0]])
    print(f"{'command':34} {'CPU s (median)':>15} {'min':>7} {'x baseline':>11}")
    for name, _ in cases:
        median = statistics.median(figures[name])
        print(f"{name:34} {median:15.3f} {min(figures[name]):7.3f} {median / base:11.1f}")
    helped = statistics.median(figures["pulse --help"])
    verdict = "within" if helped <= TARGET_HELP_SECONDS else "OVER"
    print(f"pulse --help: {helped:.3f} s of CPU, {verdict} the {TARGET_HELP_SECONDS} s target")


if __name__ == "__main__":
    main()

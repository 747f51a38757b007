"""Run every benchmark and write one summary table.

Each benchmark runs in its own process (``--json-out`` hands its figures back); the table is
printed and written to ``benchmarks/results/latest.md``. ``--quick`` runs the short smoke
versions (for CI); ``--only NAME`` (repeatable) picks some; ``--profile`` passes through.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BENCHMARKS = (
    "smtp_ingest",
    "smtp_tls",
    "api_send",
    "wait_latency",
    "streams",
    "search",
    "plugin",
    "slow_clients",
    "wal_burst",
    "console",
    "webhooks",
)
TIME_LIMIT = 240  # seconds per benchmark before it counts as failed


def run(name: str, quick: bool, profile: bool) -> tuple[dict[str, Any] | None, str, float]:
    """Run one benchmark; (its JSON report or None, its output, seconds)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        command = [sys.executable, str(HERE / f"{name}.py"), "--json-out", str(out)]
        command += ["--quick"] if quick else []
        command += ["--profile"] if profile else []
        began = time.perf_counter()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIME_LIMIT, cwd=HERE.parent
            )
            output = done.stdout + done.stderr
        except subprocess.TimeoutExpired as exc:
            output = f"{exc.stdout or ''}\ntimed out after {TIME_LIMIT} s"
        seconds = time.perf_counter() - began
        report = json.loads(out.read_text()) if out.exists() else None
        return report, output, seconds


def table(reports: list[tuple[str, dict[str, Any] | None, float]]) -> str:
    """A Markdown table of every metric, with targets and verdicts."""
    lines = [
        "| benchmark | metric | value | unit | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for name, report, seconds in reports:
        if report is None:
            lines.append(f"| {name} | **failed** (see output) | | | | NO |")
            continue
        for metric in report["metrics"]:
            value = metric["value"]
            if metric["unit"] == "x":
                shown = f"{value:.2f}"
            elif abs(value) >= 100 or metric["unit"] == "msg/s":
                shown = f"{value:,.0f}"
            else:
                shown = f"{value:.1f}"
            met = "" if metric["met"] is None else ("yes" if metric["met"] else "**NO**")
            label = metric["name"].strip()
            lines.append(
                f"| {name} | {label} | {shown} | {metric['unit']} | {metric['target']} | {met} |"
            )
        lines.append(f"| {name} | (wall time of the script) | {seconds:.0f} | s | | |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short smoke versions (CI)")
    p.add_argument("--profile", action="store_true", help="py-spy the server in each run")
    p.add_argument("--only", action="append", choices=BENCHMARKS, help="run just these")
    args = p.parse_args()
    names = args.only or list(BENCHMARKS)
    reports: list[tuple[str, dict[str, Any] | None, float]] = []
    notes: list[str] = []
    load = os.getloadavg()[0]
    for name in names:
        print(f"-- {name}{' --quick' if args.quick else ''}", flush=True)
        report, output, seconds = run(name, args.quick, args.profile)
        print(output.rstrip(), flush=True)
        reports.append((name, report, seconds))
        if report:
            notes += [f"{name}: {text}" for text in report["notes"]]
    header = (
        f"# Benchmarks{' (quick)' if args.quick else ''}\n\n"
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at start\n"
    )
    summary = f"{header}\n{table(reports)}\n\n" + "".join(f"- {n}\n" for n in notes)
    print("\n" + summary)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(summary)
    print(f"written to {(RESULTS / 'latest.md').relative_to(HERE.parent)}")
    failed = [name for name, report, _ in reports if report is None]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

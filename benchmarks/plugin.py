"""The pytest plugin's costs, as a test suite pays them.

1. Session start: ``Sandbox().start()`` in-process (what the ``mailbot_sandbox`` fixture does
   once per session and xdist worker), and the session time pytest reports for one test that
   uses the fixture against one that does not (imports, start and stop; median of 3).
2. ``mailbot_inbox`` create + cleanup: the two API calls the fixture makes per inbox.
3. A suite of 200 tests that each create an inbox, send one mail and wait for it, with
   ``-n 2``; the same 200 tests doing nothing are the baseline.

Targets: session start <= 1 s; create + cleanup median <= 10 ms; 200 tests <= 15 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from _common import PYTHON, Report, median, parser

MAIL_TEST = """
def test_{n}(inbox):
    inbox.send(inbox.address, subject="t{n}", body_text="hello")
    assert inbox.wait_for(subject_contains="t{n}", timeout=10).subject == "t{n}"
"""
EMPTY_TEST = """
def test_{n}():
    assert True
"""


def session_start(rounds: int) -> float:
    """Median seconds to start (and stop) an in-process sandbox."""
    from mailbot_sandbox import Sandbox

    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        sandbox = Sandbox().start()
        times.append(time.perf_counter() - started)
        sandbox.stop()
    return median(times)


def create_and_cleanup(count: int) -> float:
    """Median milliseconds for one inbox create plus its erase, as the fixture does them."""
    from mailbot_sandbox import Sandbox
    from pytest_mailbot.client import MailbotClient

    with Sandbox() as sandbox:
        client = MailbotClient(sandbox.base_url, f"mb_bench_{uuid.uuid4().hex}")
        client.create_inbox(username="warmup")
        times = []
        for n in range(count):
            started = time.perf_counter()
            inbox = client.create_inbox(username=f"user{n}.{uuid.uuid4().hex[:8]}")
            client.erase_inbox(inbox["id"])
            times.append((time.perf_counter() - started) * 1000)
        client.close()
    return median(times)


def run_suite(folder: Path, body: str, *args: str) -> tuple[float, float]:
    """Run ``pytest`` over ``body`` in ``folder`` (a fresh interpreter): (wall seconds, the
    session time pytest reports, which leaves out interpreter and plugin start-up)."""
    (folder / "test_bench_suite.py").write_text(body)
    started = time.perf_counter()
    result = subprocess.run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"suite failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    reported = re.search(r"passed in ([0-9.]+)s", result.stdout)
    return elapsed, float(reported.group(1)) if reported else elapsed


def main() -> None:
    options = parser(__doc__.splitlines()[0]).parse_args()
    report = Report("plugin", options.quick)
    tests = 40 if options.quick else 200

    report.add(
        "session start (Sandbox().start())",
        session_start(3 if options.quick else 7) * 1000,
        "ms",
        at_most=1000,
    )
    report.add(
        "inbox create + cleanup, median",
        create_and_cleanup(50 if options.quick else 300),
        "ms",
        at_most=10,
    )

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "pytest.ini").write_text("[pytest]\n")
        uses_fixture = textwrap.dedent("""
            def test_0(mailbot_sandbox):
                assert mailbot_sandbox.api_url
        """)
        rounds = 2 if options.quick else 3
        with_fixture = median([run_suite(folder, uses_fixture)[1] for _ in range(rounds)])
        without = median([run_suite(folder, EMPTY_TEST.format(n=0))[1] for _ in range(rounds)])
        report.add(
            "session start in pytest (1 test, with - without the fixture)",
            max(0.0, with_fixture - without) * 1000,
            "ms",
            at_most=1000,
        )
        plain, _ = run_suite(
            folder, "".join(EMPTY_TEST.format(n=n) for n in range(tests)), "-n", "2"
        )
        mail, _ = run_suite(folder, "".join(MAIL_TEST.format(n=n) for n in range(tests)), "-n", "2")
    report.add(
        f"{tests} tests: inbox + send + wait, -n 2",
        mail,
        "s",
        at_most=15 if not options.quick else None,
    )
    report.add(f"{tests} empty tests, -n 2 (baseline)", plain, "s")
    report.add("suite / baseline", mail / plain, "x")
    report.note("each suite runs in a fresh interpreter with the installed plugin")
    report.emit(options.json_out)


if __name__ == "__main__":
    main()

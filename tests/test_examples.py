"""The Django example project's own pytest suite, run as its users run it: in its folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_the_django_example_passes_with_pytest_django() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MAILBOT_"))}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=EXAMPLES / "django_signup",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout

"""The Docker image end to end, through ``scripts/docker-smoke`` (see that script's header).

Skipped when no Docker engine answers; it never installs or starts one. About 2 minutes on a
cold cache (building the image fetches its dependencies), 35 s after a code change, 15 s when
nothing changed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SMOKE = Path(__file__).resolve().parent.parent / "scripts" / "docker-smoke"


def _engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.docker
def test_image_serves_mail_and_keeps_it_across_a_restart() -> None:
    if not _engine_answers():
        pytest.skip("no Docker engine answers `docker info`")
    result = subprocess.run([str(SMOKE)], capture_output=True, text=True, timeout=1200)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "docker-smoke: OK" in result.stdout, output
    assert "all" in result.stdout and "acknowledged burst messages stored" in result.stdout

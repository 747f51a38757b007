"""``serve``'s worker processes: API keys stay out of command lines, environments and logs,
and a killed supervisor leaves no folder in the temp dir (the next start clears its own)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import requests

from tests.helpers import SERVE, environ_without_settings


def _serve(db: Path, env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    """``serve`` with two workers; the process and its API's base URL once it serves."""
    process = subprocess.Popen(
        [*SERVE, "--db", str(db), "--workers", "2", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    banner = ""
    for line in process.stdout:
        banner += line
        if line.startswith("Press Ctrl+C"):
            break
    found = re.search(r"API\s+(http://\S+)/v1", banner)
    assert found, banner
    return process, found.group(1)


def _workers(process: subprocess.Popen[str]) -> list[int]:
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    return [int(pid) for pid in children.read_text().split()]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return status != "Z"


def test_api_keys_are_on_no_command_line_environment_or_log(tmp_path: Path) -> None:
    key = f"mb_{uuid.uuid4().hex}"
    env = {**environ_without_settings(), "MAILBOT_API_KEYS": key}
    process, base_url = _serve(tmp_path / "mail.db", env, "--log-level", "debug")
    try:
        answer = requests.get(
            f"{base_url}/v1/inboxes", headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        workers = _workers(process)
        assert len(workers) == 3  # two workers and the webhook deliverer
        for pid in workers:
            assert key.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
            assert key.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert "sandbox stopped" in stderr  # the log was written, without the key
    assert key not in stderr


def test_a_killed_supervisor_leaves_no_folder_behind(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**environ_without_settings(), "TMPDIR": str(temp)}
    db = tmp_path / "data" / "mail.db"
    process, _ = _serve(db, env)
    workers = _workers(process)
    run_folders = db.parent / ".mailbot-run"
    first = list(run_folders.iterdir())
    assert len(first) == 1
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers):  # they notice and stop on their own
        assert time.monotonic() < deadline, "the workers outlived their supervisor"
        time.sleep(0.1)
    assert list(temp.iterdir()) == []
    # The next start removes what the killed one left next to the database.
    process, _ = _serve(db, env)
    try:
        second = list(run_folders.iterdir())
        assert len(second) == 1
        assert second != first
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert list(run_folders.iterdir()) == []
    assert list(temp.iterdir()) == []

"""``mailbot-sandbox serve`` as a user runs it: a real process, real signals."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers import FREE_PORTS, environ_without_settings


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailbot_sandbox", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**environ_without_settings(), **(env or {})},
    )


def _read_banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Press Ctrl+C"):
            break
    return "".join(lines)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    db = tmp_path / "data" / "mail.db"
    process = _start(*FREE_PORTS, "--db", str(db))
    banner = _read_banner(process)
    yield process, banner, db
    _finish(process)


def _finish(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=15)  # also closes the pipes


def _api_url(banner: str) -> str:
    match = re.search(r"API\s+(http://\S+/v1)", banner)
    assert match, banner
    return match.group(1)


def test_serve_prints_addresses_and_stops_cleanly_on_sigterm(served) -> None:
    process, banner, db = served
    assert re.search(r"SMTP\s+127\.0\.0\.1:\d+", banner)
    assert str(db) in banner
    assert requests.get(_api_url(banner).removesuffix("/v1") + "/health", timeout=5).ok
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert db.exists()


def test_sigint_stops_too(served) -> None:
    process, _, _ = served
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 0


def test_data_survives_a_restart(served, tmp_path: Path) -> None:
    process, banner, db = served
    headers = {"Authorization": "Bearer mb_restart"}
    created = requests.post(
        f"{_api_url(banner)}/inboxes", json={"username": "keep"}, headers=headers, timeout=5
    ).json()["data"]
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=15)
    again = _start(*FREE_PORTS, "--db", str(db))
    try:
        banner = _read_banner(again)
        got = requests.get(
            f"{_api_url(banner)}/inboxes/{created['id']}", headers=headers, timeout=5
        )
        assert got.json()["data"]["address"] == created["address"]
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=15)
        _finish(again)


def _fails_with(args: list[str], env: dict[str, str] | None = None) -> str:
    process = _start(*args, env=env)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_port_in_use_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _fails_with(
            ["--port", str(port), "--smtp-port", "0", "--smtps-port", "0", "--db", ":memory:"]
        )
    assert f"127.0.0.1:{port}" in line and "already in use" in line


def test_bad_environment_value_is_one_clear_line() -> None:
    line = _fails_with(["--db", ":memory:"], env={"MAILBOT_PORT": "eighty"})
    assert "MAILBOT_PORT" in line and "eighty" in line


def test_bad_domain_policy_from_env() -> None:
    line = _fails_with(["--db", ":memory:", "--port", "0"], env={"MAILBOT_DOMAIN_POLICY": "lax"})
    assert "domain policy" in line and "lax" in line


def test_unwritable_data_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    line = _fails_with(["--db", str(blocker / "sub" / "x.db"), "--port", "0"])
    assert "data folder" in line


def test_malformed_api_key() -> None:
    line = _fails_with(["--db", ":memory:", "--port", "0", "--api-key", "secret"])
    assert "secret" in line and "mb_" in line


def test_serve_prints_the_catch_all_key_and_its_account_gets_outside_mail(served) -> None:
    import smtplib

    _, banner, db = served
    match = re.search(r"catch-all (mb_\S+)", banner)
    assert match, banner
    key = match.group(1)
    assert (db.parent / "mail.db.catch-all-key").read_text().strip() == key
    smtp = re.search(r"SMTP\s+(\S+):(\d+)", banner)
    assert smtp
    with smtplib.SMTP(smtp.group(1), int(smtp.group(2)), timeout=10) as client:
        client.sendmail("app@shop.example", ["pat@customer.example"], b"Subject: Hi\r\n\r\nx\r\n")
    listed = requests.get(
        f"{_api_url(banner).removesuffix('/v1')}/sandbox/v1/outbox",
        headers={"Authorization": f"Bearer {key}"},
        timeout=5,
    ).json()["data"]
    assert [(e["recipients"], e["subject"]) for e in listed] == [(["pat@customer.example"], "Hi")]

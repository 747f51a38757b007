"""Logging of ``serve``: level, JSON format, and the format setting."""

from __future__ import annotations

import json
import re
import signal
import smtplib
import subprocess
import sys

import pytest
import requests

from mailbot_sandbox.config import load_config
from mailbot_sandbox.errors import ConfigError
from tests.helpers import FREE_PORTS, environ_without_settings


def test_bad_log_format_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ={"MAILBOT_LOG_FORMAT": "xml"})
    assert "text or json" in str(caught.value)
    assert "MAILBOT_LOG_FORMAT" in str(caught.value) or "xml" in str(caught.value)


SERVE_ANYWHERE = (*FREE_PORTS, "--db", ":memory:")


def _serve_and_stop(*args: str) -> str:
    """Start ``serve``, ask /health and open an SMTP session, stop it with SIGTERM; returns
    what it logged."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mailbot_sandbox", "serve", *SERVE_ANYWHERE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ_without_settings(),
    )
    assert process.stdout is not None
    banner = ""
    for line in process.stdout:
        banner += line
        if line.startswith("Press Ctrl+C"):
            break
    match = re.search(r"API\s+(http://\S+)/v1", banner)
    smtp_port = re.search(r"SMTP\s+127\.0\.0\.1:(\d+)", banner)
    assert match and smtp_port, banner
    requests.get(f"{match.group(1)}/health", timeout=5)
    with smtplib.SMTP("127.0.0.1", int(smtp_port.group(1)), timeout=10) as smtp:
        smtp.noop()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    return stderr


@pytest.mark.parametrize(
    ("level", "present", "absent"),
    [
        ("warning", [], ["sandbox started", "GET /health"]),
        (
            "info",
            ["INFO mailbot_sandbox: sandbox started", "sandbox stopped"],
            ["GET /health", "mail.log"],  # SMTP commands are debugging detail
        ),
        ("debug", ['DEBUG mailbot_sandbox: "GET /health HTTP/1.1" 200', "mail.log"], []),
    ],
)
def test_log_level_is_honoured(level: str, present: list[str], absent: list[str]) -> None:
    logged = _serve_and_stop("--log-level", level)
    for text in present:
        assert text in logged
    for text in absent:
        assert text not in logged
    if level == "warning":
        assert logged == ""


def test_json_logs_are_one_object_a_line() -> None:
    logged = _serve_and_stop("--log-format", "json")
    entries = [json.loads(line) for line in logged.splitlines()]
    started = next(entry for entry in entries if entry["message"].startswith("sandbox started"))
    assert started["level"] == "info" and started["logger"] == "mailbot_sandbox"
    assert started["api"].endswith("/v1") and started["data"] == ":memory:"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", started["time"])

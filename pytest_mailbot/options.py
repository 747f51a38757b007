"""The plugin's command-line options and ini settings, and the up-front check of
``--mailbot-url``."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``mailbot sandbox`` options and ini settings."""
    group = parser.getgroup("mailbot", "mailbot sandbox")
    group.addoption(
        "--mailbot-url",
        default=None,
        metavar="URL",
        help="use the sandbox at URL (e.g. http://127.0.0.1:8025, a docker container) instead "
        "of starting one in-process; also MAILBOT_SANDBOX_URL",
    )
    group.addoption(
        "--mailbot-smtp",
        default=None,
        metavar="HOST:PORT",
        help="SMTP address of the sandbox given by --mailbot-url (default: its host, port 1025)",
    )
    group.addoption(
        "--mailbot-smtps-port",
        default=None,
        type=int,
        metavar="PORT",
        help="implicit-TLS SMTP port of the sandbox given by --mailbot-url (default 1465; "
        "its host is the SMTP host)",
    )
    group.addoption(
        "--mailbot-api-key",
        default=None,
        metavar="KEY",
        help="API key to use (default: a fresh mb_ key per session and xdist worker, so each "
        "is an isolated account)",
    )
    group.addoption(
        "--mailbot-artifacts",
        default=None,
        metavar="DIR",
        help="where a failed test's mail is written as .eml files, one folder per test "
        "(default: .pytest_cache/mailbot)",
    )
    parser.addini("mailbot_wait_timeout", "default seconds wait_for() waits", default="10")
    parser.addini(
        "mailbot_shared_domain", "shared domain of the in-process sandbox", default="mailbot.id"
    )


@dataclass(frozen=True)
class ExternalSandbox:
    """Where the sandbox named by ``--mailbot-url`` answers."""

    base_url: str
    smtp_host: str
    smtp_port: int
    smtps_port: int


def external_target(config: pytest.Config) -> ExternalSandbox | None:
    """The sandbox named by ``--mailbot-url`` (or ``MAILBOT_SANDBOX_URL``), with its SMTP
    addresses; None when the session starts its own.

    Raises:
        pytest.UsageError: the URL, ``--mailbot-smtp`` or ``--mailbot-smtps-port`` is
            malformed.
    """
    url = config.getoption("--mailbot-url") or os.environ.get("MAILBOT_SANDBOX_URL")
    if not url:
        return None
    from urllib.parse import urlsplit

    base = url.rstrip("/").removesuffix("/v1")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise pytest.UsageError(f"--mailbot-url must look like http://host:port, got {url!r}")
    smtp = config.getoption("--mailbot-smtp") or f"{parts.hostname}:1025"
    host, _, port = smtp.rpartition(":")
    if not host or not port.isdigit():
        raise pytest.UsageError(f"--mailbot-smtp must look like host:port, got {smtp!r}")
    smtps_port = config.getoption("--mailbot-smtps-port") or 1465
    if not 0 < smtps_port < 65536:
        raise pytest.UsageError(f"--mailbot-smtps-port must be 1 to 65535, got {smtps_port}")
    return ExternalSandbox(base, host, int(port), smtps_port)


def pytest_configure(config: pytest.Config) -> None:
    """Check ``--mailbot-url`` once, up front: a wrong or dead URL is a usage error."""
    external = external_target(config)
    if external is None:
        return
    import requests

    try:
        requests.get(f"{external.base_url}/health", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        reason = type(exc).__name__
        raise pytest.UsageError(
            f"no mailbot sandbox answers at {external.base_url} ({reason})"
        ) from None

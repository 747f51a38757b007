"""Helpers shared by the test modules: an HTTP client per account, sending, SMTP mail, the CLI.

Fixtures live in ``conftest.py``; plain functions and classes live here, so that no test module
imports from another (or from a conftest, which pytest loads under its own rules).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailbot_sandbox import Sandbox
from tests.contract import check_response


class Api:
    """A real HTTP client bound to one API key (so to one sandbox account).

    Every response it receives is checked against the sandbox's ``/v1/openapi.json``
    (status listed for the route, body matching the schema); ``check_contract=False`` is
    for a test that means to receive something else.
    """

    def __init__(self, base_url: str, key: str, *, check_contract: bool = True) -> None:
        self.base_url = base_url
        self.key = key
        self.check_contract = check_contract
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        response = self.session.request(method, self.base_url + path, **kwargs)
        if self.check_contract:
            check_response(self.base_url, response)
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create_inbox(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("username", f"u{uuid.uuid4().hex[:10]}")
        response = self.post("/v1/inboxes", json=fields)
        assert response.status_code == 201, response.text
        return response.json()["data"]  # type: ignore[no-any-return]

    def close(self) -> None:
        self.session.close()


# `serve` on free ports only: parallel tests never fight over the defaults (8025, 1025, 1465).
# A new listening port goes here once, not into every test that starts a server.
FREE_PORTS = ("--port", "0", "--smtp-port", "0", "--smtps-port", "0")
SERVE = [sys.executable, "-m", "mailbot_sandbox", "serve", *FREE_PORTS]


def fresh_key() -> str:
    """A well-formed API key nobody has used: a brand-new, empty account."""
    return f"mb_test_{uuid.uuid4().hex}"


def send(api: Api, inbox: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Send through the API and return the sender's copy; fails the test on any error."""
    fields.setdefault("subject", "Hello")
    fields.setdefault("body_text", "Hi there")
    response = api.post(f"/v1/inboxes/{inbox['id']}/messages", json=fields)
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def smtp_message(sender: str, to: list[str], subject: str = "Hello", body: str = "Hi") -> bytes:
    """A small plain-text RFC 822 message, as an SMTP client would submit it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="client.example")
    message.set_content(body)
    return message.as_bytes()


def mail_by_smtp(sandbox: Sandbox, inbox: dict[str, Any], raw: bytes) -> None:
    """Hand ``raw`` to the sandbox's SMTP server for ``inbox``, as an outside sender would."""
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as smtp:
        smtp.sendmail("sender@example.com", [inbox["address"]], raw)


def subjects(api: Api, inbox: dict[str, Any]) -> list[str]:
    """The subjects of an inbox's messages, newest first."""
    listed = api.get(f"/v1/inboxes/{inbox['id']}/messages?limit=100").json()["data"]
    return [message["subject"] for message in listed]


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run ``python -m mailbot_sandbox ARGS`` without any MAILBOT_ setting of this process;
    returns (exit code, stdout, stderr)."""
    process = subprocess.run(
        [sys.executable, "-m", "mailbot_sandbox", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ_without_settings(),
    )
    return process.returncode, process.stdout, process.stderr


def environ_without_settings() -> dict[str, str]:
    """This process's environment minus every MAILBOT_ variable, for child processes."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}


def assert_consistent(sandbox: Sandbox) -> None:
    """Nothing dangles: FTS rows, attachments, threads and blobs all match the messages."""
    assert sandbox.services is not None
    sandbox.services.search_index.catch_up()  # the index follows the mail a moment later
    store = sandbox.services.store
    assert store.scalar("SELECT count(*) FROM messages_fts") == store.scalar(
        "SELECT count(*) FROM messages"
    )
    assert not store.rows(
        "SELECT rowid FROM messages_fts WHERE rowid NOT IN (SELECT seq FROM messages)"
    )
    assert not store.rows(
        "SELECT id FROM attachments WHERE message_seq NOT IN (SELECT seq FROM messages)"
    )
    assert not store.rows(
        "SELECT id FROM threads t WHERE message_count != "
        "(SELECT count(*) FROM messages m WHERE m.thread_id = t.id) OR message_count = 0"
    )
    assert not store.rows(
        "SELECT id FROM blobs WHERE id NOT IN (SELECT raw_id FROM messages) "
        "AND id NOT IN (SELECT raw_id FROM captured)"
    )


def metric(base_url: str, name: str) -> float:
    """The value of one unlabelled series (``mailbot_waits_parked``) of the sandbox's
    ``/metrics`` at ``base_url``; 0 when it is absent."""
    text = requests.get(f"{base_url}/metrics", timeout=5).text
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series == name:
            return float(value)
    return 0.0


def wait_until_parked(base_url: str, count: int = 1, timeout: float = 10) -> None:
    """Return once ``count`` long-poll waits are parked in the sandbox at ``base_url`` (its
    ``mailbot_waits_parked`` gauge), so that mail sent next has to wake them.

    Raises:
        AssertionError: fewer were parked after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while (parked := metric(base_url, "mailbot_waits_parked")) < count:
        assert time.monotonic() < deadline, f"{parked:g} of {count} waits parked"
        time.sleep(0.01)  # between two reads of the signal, not instead of one


class EventStream:
    """A live stream (Server-Sent Events) read over real HTTP with ``requests``.

    It opens in the constructor: once that returns, the response head has arrived, so the
    sandbox has fixed where the stream starts and any event recorded later reaches it.
    """

    def __init__(
        self,
        base_url: str,
        key: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.response = requests.get(
            base_url + path,
            params=params,
            headers={"Authorization": f"Bearer {key}", **(headers or {})},
            stream=True,
            timeout=10,  # between two reads: heartbeats come far more often in tests
        )
        assert self.response.status_code == 200, self.response.text
        assert self.response.headers["Content-Type"].startswith("text/event-stream")
        self._lines = self.response.iter_lines(chunk_size=1)
        self.comments: list[str] = []

    def next_event(self) -> dict[str, Any]:
        """The next event as ``{"id", "event", "data"}`` (``data`` parsed from JSON); comments
        (heartbeats) on the way are kept in :attr:`comments`."""
        fields: dict[str, Any] = {}
        for raw in self._lines:
            line = raw.decode()
            if not line:
                if "data" in fields:
                    fields["data"] = json.loads(fields["data"])
                    return fields
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        raise AssertionError("the stream ended")

    def next_comment(self) -> str:
        """The next comment line (``ping`` for a heartbeat); events on the way are dropped."""
        for raw in self._lines:
            line = raw.decode()
            if line.startswith(":"):
                return line[1:].strip()
        raise AssertionError("the stream ended")

    def close(self) -> None:
        self.response.close()


def self_signed_certificate(
    folder: Path, *, days: int = 30, name: str = "localhost"
) -> tuple[Path, Path, Path]:
    """A self-signed certificate for ``name`` valid ``days`` from now (negative: expired)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    start, end = (now - dt.timedelta(days=1), now + dt.timedelta(days=days))
    if days < 0:
        start, end = now + dt.timedelta(days=days * 2), now + dt.timedelta(days=days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file, other_key = folder / "cert.pem", folder / "key.pem", folder / "other.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for path, made in ((key_file, key), (other_key, ec.generate_private_key(ec.SECP256R1()))):
        path.write_bytes(
            made.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_file, key_file, other_key


@contextlib.contextmanager
def serving(db: Path, *arguments: str) -> Iterator[dict[str, str]]:
    """``serve`` on free ports in a process of its own, on database ``db`` (more options in
    ``arguments``): its printed ``api`` URL, ``smtp`` address and ``smtps_port``. Stopped,
    and checked to have stopped cleanly, on leaving."""
    server = subprocess.Popen(
        [*SERVE, "--db", str(db), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = ""
        assert server.stdout is not None
        for line in server.stdout:
            banner += line
            if line.startswith("Press Ctrl+C"):
                break
        found = {
            "api": re.search(r"API\s+(http://\S+)/v1", banner),
            "smtp": re.search(r"SMTP\s+(\S+:\d+)", banner),
            "smtps_port": re.search(r"SMTPS\s+\S+:(\d+)", banner),
        }
        assert all(found.values()), banner
        yield {name: match.group(1) for name, match in found.items() if match}
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=15)
    assert server.returncode == 0


def plugin_options(served: dict[str, str]) -> list[str]:
    """The pytest plugin's options for the sandbox :func:`serving` started."""
    return [
        f"--mailbot-url={served['api']}",
        f"--mailbot-smtp={served['smtp']}",
        f"--mailbot-smtps-port={served['smtps_port']}",
    ]


def subscribe(api: Api, url: str, events: list[str], **fields: Any) -> dict[str, Any]:
    """Subscribe ``url`` to ``events`` (more fields in ``fields``); the created webhook."""
    response = api.post("/v1/webhooks", json={"url": url, "events": events, **fields})
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def deliveries(api: Api, webhook: dict[str, Any]) -> list[dict[str, Any]]:
    """A webhook's deliveries, newest first, each with its attempts (the API's log)."""
    response = api.get(f"/v1/webhooks/{webhook['id']}/deliveries")
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def closed_port_url() -> str:
    """A URL on a local port where nothing listens."""
    with socket.socket() as probe:  # bound and closed: nothing listens there now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    """Poll the API (the attempt log has no wait endpoint) until ``condition`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)

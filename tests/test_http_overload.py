"""Over the request-thread cap: a bounded queue, then a fast 503, never a stall.

Every request thread busy (here, with long-poll waits that hold them) and the queue full, a
request must be answered at once with ``503``, ``Retry-After`` and the contract's error body,
so a client backs off instead of hanging; health, readiness and metrics probes still answer.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from mailbot_sandbox import Sandbox
from mailbot_sandbox.errors import ConfigError
from tests.helpers import (
    Api,
    fresh_key,
    mail_by_smtp,
    metric,
    smtp_message,
    wait_until_parked,
)

THREADS = 4
QUEUE = 2


@pytest.fixture
def small_sandbox() -> Iterator[Sandbox]:
    """A sandbox of this test alone, with room for 4 requests at once and 2 waiting."""
    with Sandbox(http_threads=THREADS, http_queue=QUEUE) as running:
        yield running


def _start_wait(sandbox: Sandbox, api: Api, inbox_id: str) -> socket.socket:
    """Send a long-poll wait (30 s) over a raw socket and leave its answer unread."""
    sock = socket.create_connection(("127.0.0.1", sandbox.http_port), timeout=40)
    sock.sendall(
        f"GET /v1/inboxes/{inbox_id}/messages/wait?timeout_ms=30000 HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {api.key}\r\n\r\n".encode()
    )
    return sock


def _status(sock: socket.socket) -> bytes:
    received = b""
    while b"\r\n" not in received and (chunk := sock.recv(4096)):
        received += chunk
    return received.split(b"\r\n")[0]


def test_past_the_threads_and_the_queue_a_request_gets_a_fast_503(
    small_sandbox: Sandbox,
) -> None:
    sandbox = small_sandbox
    api = Api(sandbox.base_url, fresh_key())
    waiting = api.create_inbox()
    waits = [_start_wait(sandbox, api, waiting["id"]) for _ in range(THREADS)]
    try:
        wait_until_parked(sandbox.base_url, THREADS)  # every request thread is held
        waits += [_start_wait(sandbox, api, waiting["id"]) for _ in range(QUEUE)]
        deadline = time.monotonic() + 10
        while metric(sandbox.base_url, "mailbot_http_requests_queued") < QUEUE:
            assert time.monotonic() < deadline, "the queued waits never showed in /metrics"
            time.sleep(0.01)  # between two reads of the signal

        started = time.monotonic()
        busy = api.get("/v1/inboxes")  # checked against the document: 503 is declared
        took = time.monotonic() - started
        assert busy.status_code == 503
        assert took < 1, f"the 503 took {took:.2f} s"
        assert busy.headers["Retry-After"].isdigit()
        assert busy.json()["error"]["code"] == "server_busy"
        assert metric(sandbox.base_url, "mailbot_http_requests_refused_total") >= 1
        # Probes still answer: an orchestrator must not restart a sandbox for being busy.
        assert requests.get(sandbox.base_url + "/ready", timeout=5).status_code == 200
        assert requests.get(sandbox.base_url + "/health", timeout=5).status_code == 200

        # Mail (by SMTP: the API has no thread free) wakes the held waits; the queued ones
        # then run and find it.
        mail_by_smtp(sandbox, waiting, smtp_message("a@example.com", [waiting["address"]]))
        assert [_status(sock) for sock in waits] == [b"HTTP/1.1 200 OK"] * (THREADS + QUEUE)
    finally:
        for sock in waits:
            sock.close()
    # Room again: requests are served normally.
    assert api.get("/v1/inboxes").status_code == 200


def test_thread_and_queue_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="http_threads must be a whole number 1-100000, got 0"):
        Sandbox(http_threads=0)
    with pytest.raises(ConfigError, match="http_queue must be a whole number"):
        Sandbox(http_queue=-1)

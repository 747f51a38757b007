"""Hostile HTTP clients: half-sent requests, silent connections, pipelining, a thread cap.

A connection must cost a thread only while one of its requests is being served; otherwise
thousands of slow clients hold thousands of threads and, hanging up at once, stall the API.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import pytest

from mailbot_sandbox import Sandbox
from mailbot_sandbox.runtime import connections
from mailbot_sandbox.runtime.connections import RequestThreads

HALF_A_REQUEST = b"GET /v1/inboxes HTTP/1.1\r\nHost: x\r\n"


def _get_health(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_half_sent_requests_hold_no_thread(sandbox: Sandbox) -> None:
    before = threading.active_count()
    slow = [socket.create_connection(("127.0.0.1", sandbox.http_port)) for _ in range(200)]
    try:
        for sock in slow:
            sock.sendall(HALF_A_REQUEST)
        # Connections are accepted in order: once a later one is answered, all are taken.
        assert _get_health(sandbox.http_port).startswith(b"HTTP/1.1 200")
        assert threading.active_count() - before < 20
    finally:
        for sock in slow:
            sock.close()
    assert _get_health(sandbox.http_port).startswith(b"HTTP/1.1 200")


def test_a_request_head_that_never_ends_is_cut_off(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connections, "HEADER_TIMEOUT", 0.5)
    with socket.create_connection(("127.0.0.1", sandbox.http_port), timeout=10) as sock:
        sock.sendall(HALF_A_REQUEST)
        started = time.monotonic()
        assert sock.recv(4096) == b""  # closed by the server, without an answer
    assert time.monotonic() - started < 5


def test_pipelined_requests_are_all_answered(sandbox: Sandbox) -> None:
    one = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", sandbox.http_port), timeout=10) as sock:
        sock.sendall(one * 3)
        received = b""
        while received.count(b'{"status":"ok"}') < 3:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
        # And the connection, parked again, serves one more later.
        sock.sendall(one)
        while received.count(b'{"status":"ok"}') < 4:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
    assert received.count(b"HTTP/1.1 200") == 4


def test_requests_beyond_the_thread_limit_wait_their_turn() -> None:
    threads = RequestThreads(limit=2)
    release = threading.Event()
    running = 0
    most = 0
    done: list[int] = []
    changed = threading.Condition()

    def call(number: int) -> None:
        nonlocal running, most
        with changed:
            running += 1
            most = max(most, running)
            changed.notify_all()
        release.wait(10)
        with changed:
            running -= 1
            done.append(number)

    for number in range(6):
        threads.submit(call, number)
    with changed:  # two run at once; the other four queue behind them
        assert changed.wait_for(lambda: running == 2, 10)
    release.set()
    threads.close(timeout=10)
    assert sorted(done) == list(range(6))
    assert most == 2


def test_a_chunked_body_over_the_limit_is_refused_as_too_large() -> None:
    with Sandbox(max_message_size=1024) as sandbox:  # a body limit of about 1 MB
        payload = json.dumps({"username": "big", "padding": "x" * 2_000_000}).encode()
        with socket.create_connection(("127.0.0.1", sandbox.http_port), timeout=30) as sock:
            sock.sendall(
                b"POST /v1/inboxes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mb_chunky\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            with contextlib.suppress(OSError):  # the server may answer before the end
                for start in range(0, len(payload), 65536):
                    part = payload[start : start + 65536]
                    sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
                sock.sendall(b"0\r\n\r\n")
            received = b""
            while b"\r\n\r\n" not in received or not received.endswith(b"}\n"):
                chunk = sock.recv(65536)
                assert chunk, received
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["error"]["code"] == "payload_too_large"

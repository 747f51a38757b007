"""Request parsing of the HTTP server: the header shortcut and the library's path agree."""

from __future__ import annotations

import socket

import pytest

from mailbot_sandbox import Sandbox


def exchange(sandbox: Sandbox, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", sandbox.http_port), timeout=10) as conn:
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /health HTTP/1.0\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",  # library path
        b"GET /health HTTP/1.1\r\nhost:x\r\nX-Empty:\r\n\r\n",
        b"GET /health  HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET //health HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_requests_are_answered(sandbox: Sandbox, request_bytes: bytes) -> None:
    answer = exchange(sandbox, request_bytes)
    assert answer.startswith(b"HTTP/1.1 200") or answer.startswith(b"HTTP/1.0 200"), answer
    assert b'"status": "ok"' in answer or b'"status":"ok"' in answer


def test_bad_request_lines_get_the_library_answers(sandbox: Sandbox) -> None:
    assert b" 400 " in exchange(sandbox, b"GET /health HTTP/1.x\r\n\r\n")
    assert b" 505 " in exchange(sandbox, b"GET /health HTTP/2.0\r\n\r\n")
    assert b" 400 " in exchange(sandbox, b"ONE-WORD-ONLY\r\n\r\n")


def test_too_many_headers_is_431(sandbox: Sandbox) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % n for n in range(150))
    assert b" 431 " in exchange(sandbox, b"GET /health HTTP/1.1\r\n" + headers + b"\r\n")


def test_pipelined_keep_alive_requests_with_bodies(sandbox: Sandbox) -> None:
    body = b'{"username": "pipe"}'
    one = (
        b"POST /v1/inboxes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mb_pipeline_test\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    two = b"GET /v1/inboxes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mb_pipeline_test\r\n\r\n"
    answer = exchange(sandbox, one + two)
    assert answer.count(b"HTTP/1.1 ") == 2, answer
    assert b"HTTP/1.1 201" in answer and b"HTTP/1.1 200" in answer

"""Persistent HTTP connections: reused, never confused by unread bodies, closed on stop."""

from __future__ import annotations

import http.client
import json
import socket
import threading

from mailbot_sandbox import Sandbox

AUTH = {"Authorization": "Bearer mb_keepalive", "Content-Type": "application/json"}


def _connect(sandbox: Sandbox) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", sandbox.http_port, timeout=10)


def _call(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict, str | None]:
    conn.request(method, path, body=body, headers=headers or AUTH)
    response = conn.getresponse()
    return response.status, json.loads(response.read()), response.getheader("Connection")


def test_one_connection_serves_many_requests(sandbox: Sandbox) -> None:
    conn = _connect(sandbox)
    try:
        status, _, connection = _call(conn, "GET", "/health")
        first_socket = conn.sock
        assert (status, connection) == (200, None)
        created = _call(conn, "POST", "/v1/inboxes", json.dumps({"username": "ka"}).encode())
        assert created[0] == 201
        listed = _call(conn, "GET", "/v1/inboxes")
        assert listed[1]["meta"]["total"] >= 1
        assert conn.sock is first_socket  # the same TCP connection all along
    finally:
        conn.close()


def test_an_unread_body_does_not_leak_into_the_next_request(sandbox: Sandbox) -> None:
    conn = _connect(sandbox)
    try:
        # 404 and 405 answer without reading the body; the next request must still parse.
        body = json.dumps({"padding": "x" * 50_000}).encode()
        assert _call(conn, "POST", "/v1/no-such-route", body)[0] == 404
        assert _call(conn, "PUT", "/v1/inboxes", body)[0] == 405
        status, data, _ = _call(conn, "GET", "/health")
        assert (status, data) == (200, {"status": "ok"})
    finally:
        conn.close()


def test_a_chunked_upload_works_and_closes_the_connection(sandbox: Sandbox) -> None:
    conn = _connect(sandbox)
    try:
        conn.putrequest("POST", "/v1/inboxes")
        for name, value in {**AUTH, "Transfer-Encoding": "chunked"}.items():
            conn.putheader(name, value)
        conn.endheaders()
        payload = json.dumps({"username": "chunky"}).encode()
        conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload))
        response = conn.getresponse()
        assert response.status == 201
        assert json.loads(response.read())["data"]["username"] == "chunky"
        assert response.getheader("Connection") == "close"
    finally:
        conn.close()


def test_a_client_asking_to_close_gets_closed(sandbox: Sandbox) -> None:
    conn = _connect(sandbox)
    try:
        status, _, connection = _call(conn, "GET", "/health", headers={"Connection": "close"})
        assert (status, connection) == (200, "close")
    finally:
        conn.close()


def test_stopping_closes_idle_connections_and_their_threads() -> None:
    before = threading.active_count()
    sandbox = Sandbox().start()
    raw = socket.create_connection(("127.0.0.1", sandbox.http_port), timeout=10)
    try:
        raw.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b'{"status":"ok"}' not in received:
            received += raw.recv(4096)
        assert received.startswith(b"HTTP/1.1 200")
        sandbox.stop()
        assert raw.recv(4096) == b""  # the server hung up the kept-alive connection
    finally:
        raw.close()
    assert threading.active_count() <= before

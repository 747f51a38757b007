"""Real webhook receivers for tests, on 127.0.0.1 in threads: ``Receiver``, an HTTP server
that records every POST and answers with the statuses it is told to, maybe slowly, maybe
keeping the connection open; ``RawReceiver``, a TCP server whose answers are whatever bytes
a test writes, for receivers that misbehave."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One POST as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int  # one per connection: tells kept-alive connections from new ones

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


class Receiver:
    """Start with ``with Receiver() as hook:``; ``hook.url`` takes POSTs. ``statuses`` are
    answered in turn (then 200), so a test can make the first attempts fail; each answer
    comes ``delay`` seconds after the POST was recorded. With ``keep_alive`` it speaks
    HTTP/1.1 and keeps connections open, else HTTP/1.0 (one request per connection)."""

    def __init__(
        self,
        statuses: list[int] | None = None,
        port: int = 0,
        delay: float = 0.0,
        keep_alive: bool = False,
    ) -> None:
        self.received: list[Received] = []
        self._statuses = list(statuses or [])
        self._delay = delay
        self._arrived = threading.Condition()
        receiver = self

        self._connections: set[Any] = set()
        self._answering = 0  # requests recorded and not yet answered

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def setup(self) -> None:
                super().setup()
                receiver._connections.add(self.connection)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                arrived = Received(self.path, dict(self.headers), body, self.client_address[1])
                with receiver._arrived:
                    status = receiver._statuses.pop(0) if receiver._statuses else 200
                    receiver.received.append(arrived)
                    receiver._answering += 1
                    receiver._arrived.notify_all()
                try:
                    time.sleep(delay)
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    with receiver._arrived:
                        receiver._answering -= 1
                        receiver._arrived.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True  # a kept-alive connection must not hold up exit
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._arrived:  # a test may leave as soon as a request arrived: answer it first
            self._arrived.wait_for(lambda: not self._answering, timeout=self._delay + 5)
        for connection in list(self._connections):  # kept-alive ones: gone, as in a restart
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def wait_for(
        self, match: Callable[[Received], bool], count: int = 1, timeout: float = 10
    ) -> list[Received]:
        """The first ``count`` deliveries ``match`` accepts, waiting for them to arrive."""
        with self._arrived:
            found: list[Received] = []

            def enough() -> bool:
                found[:] = [r for r in self.received if match(r)]
                return len(found) >= count

            if not self._arrived.wait_for(enough, timeout):
                seen = [r.headers.get("X-Mailbot-Event") for r in self.received]
                raise AssertionError(f"{count} matching deliveries not received; got {seen}")
            return found[:count]

    def events(self, type: str, count: int = 1, timeout: float = 10) -> list[Received]:
        """The first ``count`` deliveries of events of ``type``."""
        return self.wait_for(lambda r: r.headers.get("X-Mailbot-Event") == type, count, timeout)


@dataclass(frozen=True)
class RawRequest:
    """One POST as :class:`RawReceiver` read it: which of its connections it came on
    (counting from 1), its head and its body."""

    connection: int
    head: bytes
    body: bytes

    def header(self, wanted: str) -> str | None:
        """The value of its header ``wanted`` (any case), None when it has none."""
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == wanted.lower():
                return value.strip()
        return None

    @property
    def event(self) -> str | None:
        """Its ``X-Mailbot-Event`` header."""
        return self.header("X-Mailbot-Event")


# Writes the answer to one request (any bytes at all); returns whether the connection stays
# open for the next request.
Reply = Callable[[socket.socket, RawRequest], bool]


class RawReceiver:
    """A receiver that answers with raw bytes, for what http.server will not do: stay
    silent, answer garbage, stop mid-answer, offer a certificate nobody trusts.

    Each POST is read (head, then ``Content-Length`` bytes), recorded, and handed to
    ``reply``. ``idle`` closes a connection after that many seconds without a request;
    ``requests_per_connection`` closes a connection, leaving the request unread, when one
    more request comes on it (what a server does whose idle timer fired as the request
    arrived); ``tls`` wraps every connection in TLS, server side.
    """

    def __init__(
        self,
        reply: Reply,
        *,
        idle: float | None = None,
        requests_per_connection: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.received: list[RawRequest] = []
        self.closed_idle = 0  # connections closed by the idle timer
        self._tls = tls
        self._changed = threading.Condition()
        self._sockets: set[socket.socket] = set()
        self.connections = 0  # made to it so far
        self.dropped = 0  # requests it hung up on unread (``requests_per_connection``)
        receiver = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                with receiver._changed:
                    receiver.connections += 1
                    number = receiver.connections
                if tls is not None:
                    sock.settimeout(5)
                    try:
                        sock = tls.wrap_socket(sock, server_side=True)
                    except OSError:
                        return  # the client refused the handshake
                receiver._sockets.add(sock)
                try:
                    self.serve(sock, number)
                finally:
                    sock.close()  # the TLS one too, which finish() does not know

            def serve(self, sock: socket.socket, number: int) -> None:
                sock.settimeout(idle)
                served, limit = 0, requests_per_connection
                buffer = b""
                while True:
                    try:
                        if limit is not None and served >= limit:
                            if sock.recv(1, socket.MSG_PEEK):  # it came; read none of it
                                with receiver._changed:
                                    receiver.dropped += 1
                                    receiver._changed.notify_all()
                            return
                        request, buffer = _read_request(sock, buffer, number)
                    except TimeoutError:
                        with receiver._changed:
                            receiver.closed_idle += 1
                            receiver._changed.notify_all()
                        return
                    except OSError:
                        return
                    if request is None:  # the client closed the connection
                        return
                    served += 1
                    with receiver._changed:
                        receiver.received.append(request)
                        receiver._changed.notify_all()
                    try:
                        if not reply(sock, request):
                            return
                    except OSError:  # the client went away mid-answer
                        return

            def finish(self) -> None:
                with contextlib.suppress(OSError):
                    self.request.close()

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "http" if self._tls is None else "https"
        return f"{scheme}://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> RawReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10) -> None:
        """Wait until ``condition`` (called under the receiver's lock) holds."""
        with self._changed:
            if not self._changed.wait_for(condition, timeout):
                seen = [r.event for r in self.received]
                raise AssertionError(f"the receiver's condition did not hold; got {seen}")

    def events(self, type: str, count: int = 1, timeout: float = 10) -> list[RawRequest]:
        """The first ``count`` requests carrying events of ``type``."""
        self.wait_until(lambda: len(self.of(type)) >= count, timeout)
        return self.of(type)[:count]

    def of(self, type: str) -> list[RawRequest]:
        """The requests received so far carrying events of ``type``."""
        return [r for r in self.received if r.event == type]


def _read_request(
    sock: socket.socket, buffer: bytes, connection: int
) -> tuple[RawRequest | None, bytes]:
    """The next request on ``sock`` (None when the client closed it) and the bytes after it."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    head, _, buffer = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buffer) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    return RawRequest(connection, head, buffer[:length]), buffer[length:]

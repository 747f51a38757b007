"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 in a thread that records
every POST and answers with the statuses it is told to, maybe slowly, maybe keeping the
connection open."""

from __future__ import annotations

import contextlib
import json
import socket
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
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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

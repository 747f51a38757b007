"""The HTTP side: werkzeug's threaded WSGI server, with keep-alive.

Werkzeug's development server closes every connection after its response, so each request
from a pooled client (requests, httpx, the SDK) paid a new TCP connection and a new thread:
most of the time a small request took. It does so for one reason: after a response it
drains whatever the client still sends, which on a kept-alive connection could be the next
request. Here each request's body stream ends at its ``Content-Length``, so that drain can
only ever see the rest of the current body, and the connection stays open. A request with a
chunked body keeps the old behaviour (one request, then close).

Between requests a connection holds no thread: it waits in
:class:`~mailbot_sandbox.runtime.connections.Parking` until the head of its next request has
arrived, and that request is then served by one of a bounded set of threads
(:class:`~mailbot_sandbox.runtime.connections.RequestThreads`).
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import socket
import threading
from http.client import HTTPMessage
from typing import Any, BinaryIO

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

from mailbot_sandbox.api.streams import HAND_OVER
from mailbot_sandbox.core.streams import Subscription
from mailbot_sandbox.errors import ConfigError
from mailbot_sandbox.metrics import Metrics
from mailbot_sandbox.runtime.connections import (
    MAX_QUEUED_REQUESTS,
    MAX_REQUEST_THREADS,
    PROBE_QUEUE,
    PROBE_THREADS,
    Parking,
    RequestThreads,
    answer_and_close,
    busy_reply,
    head_complete,
    is_probe,
    raise_open_file_limit,
)
from mailbot_sandbox.runtime.streams import StreamHub

log = logging.getLogger("mailbot_sandbox")
READ_TIMEOUT = 30  # seconds a request's head or body may go without a byte arriving
LISTEN_BACKLOG = 1024  # connections the kernel holds before they are accepted


class _BodyReader:
    """The part of the connection's stream that belongs to the current request's body."""

    def __init__(self, stream: BinaryIO, length: int) -> None:
        self._stream = stream
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self._stream.read(size)
        self.remaining -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self._stream.readline(size)
        self.remaining -= len(data)
        return data

    def drain(self) -> None:
        while self.remaining > 0 and self.read(65536):
            pass


_MAX_HEADER_LINE = 65536  # the standard library's limits
_MAX_HEADERS = 100


class _Replay:
    """A stream that first gives back bytes already read, then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = io.BytesIO(head)
        self._stream = stream

    def readline(self, size: int = -1) -> bytes:
        line = self._head.readline(size)
        if line.endswith(b"\n") or (size >= 0 and len(line) >= size):
            return line
        return line + self._stream.readline(-1 if size < 0 else size - len(line))

    def read(self, size: int = -1) -> bytes:
        data = self._head.read(size)
        if size < 0:
            return data + self._stream.read()
        if len(data) < size:
            data += self._stream.read(size - len(data))
        return data

    def unread(self) -> bytes:
        """The replayed bytes not read yet."""
        return self._head.read()

    @property
    def stream(self) -> BinaryIO:
        return self._stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 with persistent connections; request lines are logged at debug level."""

    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; on a kept-alive connection Nagle's
        # algorithm would hold the body back for the client's delayed ACK (~40 ms).
        with contextlib.suppress(OSError):  # not TCP (a test's socket pair)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = self.server.heads.pop(self.connection, b"")
        if head:  # what arrived while the connection was parked
            self.rfile = _Replay(head, self.rfile)  # type: ignore[arg-type, assignment]
        # Set when the connection goes back to parking after this request, with the part
        # of the next request that arrived already.
        self.parked_head: bytes | None = None
        # Set when the response became a live stream: the hub serves the connection next.
        self.handed_over: Subscription | None = None

    def make_environ(self) -> Any:
        environ = super().make_environ()
        if self.server.streams is not None:
            environ[HAND_OVER] = self._hand_over
        return environ

    def _hand_over(self, subscription: Subscription) -> None:
        """The response head and its first bytes are sent: the rest of this connection is a
        live stream, which the stream hub serves once this request's thread lets go of it.
        What werkzeug still writes (the end of the chunked body) goes nowhere."""
        self.handed_over = subscription
        self.close_connection = True
        self.wfile = io.BytesIO()

    def handle(self) -> None:
        """Serve the requests whose heads are here already, then hand the connection back to
        parking (kept alive) or let it close."""
        self.close_connection = True
        try:
            self.handle_one_request()
            while not self.close_connection:
                head = self._unread()
                if not head_complete(head):
                    self.parked_head = head
                    return
                self.rfile = _Replay(head, self.rfile)  # type: ignore[arg-type, assignment]
                self.handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client left or went silent

    def _unread(self) -> bytes:
        """What the client sent beyond the current request, taken out of the buffers without
        waiting for more."""
        rfile: Any = self.rfile
        head = b""
        while isinstance(rfile, _Replay):
            head += rfile.unread()
            rfile = rfile.stream
        self.connection.settimeout(0)  # the buffered bytes only, no waiting on the socket
        try:
            buffered = rfile.peek()
            head += rfile.read(len(buffered))
        except (OSError, ValueError):
            self.close_connection = True
        finally:
            self.connection.settimeout(self.timeout)
        self.rfile = rfile
        return head

    def parse_request(self) -> bool:
        """The standard library reads the header lines and then runs them through the email
        package's feed parser, a large share of a small API request's CPU. A plain HTTP/1.x request
        has its headers split here instead; any other request line, or an oversized or
        folded header, takes the library's own path with its error answers."""
        words = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n").split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            return super().parse_request()
        lines: list[bytes] = []
        while True:
            line = self.rfile.readline(_MAX_HEADER_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                break
            lines.append(line)
            if (
                len(line) > _MAX_HEADER_LINE
                or len(lines) > _MAX_HEADERS
                or line[:1] in (b" ", b"\t")
                or b":" not in line
            ):
                # Rare and odd: give the library everything read so far plus the rest.
                replay = _Replay(b"".join(lines), self.rfile)  # type: ignore[arg-type]
                self.rfile = replay  # type: ignore[assignment]
                return super().parse_request()
        self.requestline = " ".join(words)
        self.command, self.path, self.request_version = words
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")
        headers = HTTPMessage()
        for line in lines:
            name, _, value = str(line, "iso-8859-1").partition(":")
            headers[name] = value.strip(" \t\r\n")
        self.headers = headers
        connection = headers.get("Connection", "").lower()
        self.close_connection = words[2] == "HTTP/1.0" and connection != "keep-alive"
        if connection == "close":
            self.close_connection = True
        if headers.get("Expect", "").lower() == "100-continue" and words[2] == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def run_wsgi(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._keep = False
            return super().run_wsgi()
        self._keep = True
        try:
            length = max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            length, self._keep = 0, False
        stream = self.rfile
        body = _BodyReader(stream, length)  # type: ignore[arg-type]
        self.rfile = body  # type: ignore[assignment]
        try:
            super().run_wsgi()
            body.drain()  # what the app left unread, so the next request line is next
        finally:
            self.rfile = stream

    def send_header(self, keyword: str, value: str) -> None:
        if (
            keyword.lower() == "connection"
            and value.lower() == "close"
            and getattr(self, "_keep", False)
            and not self.close_connection  # set when the client itself asked to close
        ):
            return  # werkzeug's blanket close, dropped
        super().send_header(keyword, value)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug('"%s" %s %s', self.requestline, code, size)


def bind(host: str, port: int, what: str) -> socket.socket:
    """A listening socket on ``host:port``; :class:`ConfigError` naming the address if not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(LISTEN_BACKLOG)
    except OSError as exc:
        listener.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise ConfigError(f"cannot listen for {what} on {host}:{port}: {reason or exc}") from None
    return listener


class _Server(BaseWSGIServer):
    """werkzeug's server with connections parked between requests and requests served by a
    bounded set of threads."""

    multithread = True

    def __init__(
        self,
        host: str,
        port: int,
        app: Any,
        fd: int,
        streams: StreamHub | None,
        threads: RequestThreads,
        metrics: Metrics,
    ) -> None:
        super().__init__(host, port, app, handler=KeepAliveHandler, fd=fd)
        self.streams = streams
        self.heads: dict[socket.socket, bytes] = {}  # for the handler about to serve each
        # Connections with a request in progress and the threads serving them.
        self.connections: dict[socket.socket, threading.Thread] = {}
        self.threads = threads
        self.probe_threads = RequestThreads(PROBE_THREADS, PROBE_QUEUE)
        self.metrics = metrics
        self.parking = Parking(self._dispatch)
        self._busy = busy_reply()

    def process_request(self, request: Any, client_address: Any) -> None:
        """A new connection waits in parking for its first request head."""
        self.parking.park(request, kept_alive=False)

    def _dispatch(self, connection: socket.socket, head: bytes) -> None:
        threads = self.probe_threads if is_probe(head) else self.threads
        if not threads.submit(self._serve, connection, head):
            self.metrics.http_requests_refused.inc()
            answer_and_close(connection, self._busy)

    def _serve(self, connection: socket.socket, head: bytes) -> None:
        try:
            peer = connection.getpeername()
        except OSError:  # the client left already
            connection.close()
            return
        self.connections[connection] = threading.current_thread()
        self.heads[connection] = head
        handler: KeepAliveHandler | None = None
        try:
            handler = KeepAliveHandler(connection, peer, self)
        except Exception:
            self.handle_error(connection, peer)
        finally:
            self.connections.pop(connection, None)
            self.heads.pop(connection, None)
        if handler is not None and handler.handed_over is not None and self.streams is not None:
            self.streams.attach(connection, handler.handed_over)
        elif handler is not None and handler.parked_head is not None:
            self.parking.park(connection, handler.parked_head, kept_alive=True)
        else:
            self.shutdown_request(connection)


class HttpServer:
    """Serves a WSGI app on its own thread; :meth:`stop` also closes idle kept-alive
    connections, so no handler thread outlives the server.

    With ``port=None`` it listens nowhere: connections accepted elsewhere (by the supervisor
    of several sandbox processes) are handed to :meth:`adopt`.
    """

    def __init__(
        self,
        app: Any,
        host: str,
        port: int | None,
        streams: StreamHub | None = None,
        *,
        threads: int = MAX_REQUEST_THREADS,
        queue: int = MAX_QUEUED_REQUESTS,
        metrics: Metrics | None = None,
    ) -> None:
        self._listening = port is not None
        raise_open_file_limit()
        metrics = metrics or Metrics()
        request_threads = RequestThreads(threads, queue, metrics.http_requests_queued.set)
        # Bound here rather than by werkzeug, which answers "port in use" with sys.exit().
        # Without a port, werkzeug still wants a socket: an unbound one that never listens.
        with bind(host, port, "HTTP") if port is not None else socket.socket() as listener:
            self._server = _Server(
                host, port or 0, app, listener.fileno(), streams, request_threads, metrics
            )
        # serve_forever notices shutdown() once per poll interval: 0.5 s by default, which
        # every test session would wait at its end.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="mailbot-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.port)

    def start(self) -> None:
        if self._listening:
            self._thread.start()

    def adopt(self, connection: socket.socket) -> None:
        """Serve a connection accepted by someone else."""
        self._server.parking.park(connection, kept_alive=False)

    def stop(self) -> None:
        if self._listening:
            self._server.shutdown()
        self._server.server_close()
        self._server.parking.close()
        for connection in list(self._server.connections):
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)
        self._server.threads.close(timeout=10)
        self._server.probe_threads.close(timeout=10)
        if self._listening:
            self._thread.join(timeout=10)

"""Webhook deliveries over HTTP/1.1: signed POSTs made from one asyncio loop, on connections
kept alive per origin.

Every attempt runs on the dispatcher's loop; none has a thread of its own. A thread per
request in flight cost more in handing the interpreter lock between threads than the
requests did (about 0.4 ms of CPU per delivery), and that CPU came out of the cores that take
in mail. The request is a few fixed lines written here; the answer is parsed by
``httptools`` (the parser of uvicorn), which leaves the sockets to asyncio.
"""

from __future__ import annotations

import asyncio
import hmac
import ssl
import time
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urlsplit

import httptools

from mailbot_sandbox.core.events import wire_payload
from mailbot_sandbox.store.webhooks import Claimed

_RESPONSE_LIMIT = 65536  # bytes of a receiver's answer read; past that, the connection closes
_Origin = tuple[str, str, int]  # scheme, host, port
_BODIES_KEPT = 64


def payload(claimed: Claimed) -> bytes:
    """The body of a delivery: the event as a live stream sends it too."""
    return wire_payload(claimed["event"]).encode()


def signature(body: bytes, secret: str) -> str:
    """``X-Mailbot-Signature``: hex HMAC-SHA256 of the raw body, keyed with the secret."""
    return hmac.digest(secret.encode(), body, "sha256").hex()  # one call into OpenSSL


class Answer(NamedTuple):
    """What came of one attempt: the receiver's status (None when it never answered), the
    error as logged (None for a whole 2xx answer: the only kind that delivers), and how long
    it took."""

    status_code: int | None
    error: str | None
    latency_ms: float


Done = Callable[[Claimed, Answer], None]


class _Target(NamedTuple):
    """Where a URL's POSTs go: its origin, the request line's target and the Host header."""

    origin: _Origin
    path: str
    host: str


def _target(url: str) -> _Target:
    """Raises ValueError for anything but an absolute http(s) URL in printable ASCII (the
    API checks webhook URLs; this keeps a request line from ever carrying anything else)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target((parts.scheme, parts.hostname, port), path, parts.netloc.rpartition("@")[2])


class _Attempt:
    """One POST in flight: its bytes, its deadline, and who hears how it ended (once)."""

    def __init__(self, claimed: Claimed, request: bytes, origin: _Origin, done: Done) -> None:
        self.claimed = claimed
        self.request = request
        self.origin = origin
        self.done = done
        self.started = time.perf_counter()
        self.timer: asyncio.TimerHandle | None = None
        self.finished = False
        self.retried = False  # made again once on a new connection after a stale kept one
        self.connection: _Connection | None = None  # the one carrying it, once there is one

    def finish(self, status_code: int | None, error: str | None) -> None:
        if self.finished:
            return
        self.finished = True
        if self.timer is not None:
            self.timer.cancel()
        latency_ms = round((time.perf_counter() - self.started) * 1000, 1)
        self.done(self.claimed, Answer(status_code, error, latency_ms))


class _Connection(asyncio.Protocol):
    """One connection to a receiver, carrying one request at a time."""

    def __init__(self, poster: Poster, origin: _Origin) -> None:
        self.poster = poster
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.attempt: _Attempt | None = None
        self.reused = False  # the attempt in flight is not this connection's first
        self.answered = False  # bytes of an answer to it arrived
        self.status: int | None = None
        self.framed = False  # the answer says where its body ends (a length, or chunks)
        self.read = 0  # bytes of the answer's body
        self.complete = False  # the whole answer was parsed
        self.keep = False  # and the connection may carry the next POST

    def send(self, attempt: _Attempt, *, reused: bool) -> None:
        assert self.transport is not None
        self.attempt, self.reused = attempt, reused
        attempt.connection = self
        self.answered, self.status, self.read, self.complete = False, None, 0, False
        self.framed = self.keep = False
        self.transport.write(attempt.request)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- asyncio ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.poster._open.add(self)

    def data_received(self, data: bytes) -> None:
        if self.attempt is None:  # nothing was asked: a receiver talking out of turn
            self.close()
            return
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._end(self.status, "the receiver switched protocols", keep=False)
            return
        except httptools.HttpParserError as exc:
            if not self.complete:
                self._end(None, f"not an HTTP answer: {exc}", keep=False)
                return
            self.keep = False  # bytes past a whole answer: it stands, the connection does not
        if self.complete:
            self._end(self.status, None, keep=self.keep)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.poster._forget(self)
        if self.attempt is not None and self.status is not None and not self.framed:
            # An answer without a length (HTTP/1.0 style) ends where the connection does.
            self._end(self.status, None, keep=False)
            return
        attempt, self.attempt = self.attempt, None
        if attempt is None or attempt.finished:
            return
        if self.reused and not self.answered and not attempt.retried:
            attempt.retried = True  # closed while idle: the receiver never saw this POST
            self.poster._connect(attempt)
            return
        reason = "the receiver closed the connection"
        if exc is not None:
            reason = str(exc) or type(exc).__name__
        # A cut-off answer is a failed attempt, whatever status it began with: the
        # receiver may not have finished with the event.
        attempt.finish(self.status, f"{reason} mid-answer" if self.answered else reason)

    # -- httptools ----------------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self.framed = True

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.read += len(body)
        if self.read > _RESPONSE_LIMIT:
            self._end(self.status, None, keep=False)  # enough: its status is the answer

    def on_message_begin(self) -> None:
        if self.complete:
            self.keep = False  # a second answer, to nothing that was asked

    def on_message_complete(self) -> None:
        if self.status is not None and 100 <= self.status < 200 and self.status != 101:
            # An interim answer ("100 Continue", asked for or not): the real one follows.
            self.status, self.framed = None, False
            return
        # The attempt ends once the whole read is parsed (data_received), not here: a
        # receiver that sends more than its Content-Length would otherwise have those bytes
        # read as the answer to the next POST, which ending here may start on this connection.
        if not self.complete:
            self.keep = self.parser.should_keep_alive()
        self.complete = True

    def _end(self, status: int | None, error: str | None, *, keep: bool) -> None:
        """The attempt is over: keep the connection for the next POST to this origin (before
        the answer is handed on, which may start that POST) or close it."""
        attempt, self.attempt = self.attempt, None
        if attempt is None:
            return
        if keep:
            self.poster._idle.setdefault(self.origin, []).append(self)
        else:
            self.close()
        if status is not None and error is None and not 200 <= status < 300:
            error = f"HTTP {status}"
        attempt.finish(status, error)


class Poster:
    """Makes attempts on ``loop`` (call :meth:`post` on its thread): each attempt's answer
    goes to its ``done``, on that thread. No proxy from the environment, and no redirect
    followed: receivers are the developer's own, often local, and a redirect is the
    receiver's answer, logged as such (following it would POST the signed event to a URL
    nobody subscribed)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self._timeout = timeout
        self._targets: dict[str, _Target] = {}
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._tls: ssl.SSLContext | None = None
        # The last few events' bodies: an event's deliveries to its subscribers are started
        # one after another, and the body is the same for each.
        self._bodies: dict[str, bytes] = {}

    def post(self, claimed: Claimed, done: Done) -> None:
        """Start one attempt at ``claimed``; ``done(claimed, answer)`` follows, whatever the
        receiver does (and never before this returns)."""
        body = self._bodies.get(claimed["event"]["id"])
        if body is None:
            if len(self._bodies) >= _BODIES_KEPT:
                self._bodies.clear()
            body = self._bodies[claimed["event"]["id"]] = payload(claimed)
        target = self._targets.get(claimed["url"])
        if target is None:
            try:
                target = self._targets[claimed["url"]] = _target(claimed["url"])
            except ValueError as exc:
                attempt = _Attempt(claimed, b"", ("", "", 0), done)
                self._loop.call_soon(attempt.finish, None, str(exc))
                return
        head = (
            f"POST {target.path} HTTP/1.1\r\n"
            f"Host: {target.host}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "User-Agent: mailbot-sandbox-webhooks\r\n"
            f"X-Mailbot-Signature: {signature(body, claimed['secret'])}\r\n"
            f"X-Mailbot-Timestamp: {int(time.time())}\r\n"
            f"X-Mailbot-Event: {claimed['event']['type']}\r\n"
            f"X-Mailbot-Delivery: {claimed['id']}\r\n"
            "\r\n"
        )
        attempt = _Attempt(claimed, head.encode() + body, target.origin, done)
        attempt.timer = self._loop.call_later(self._timeout, self._timed_out, attempt)
        idle = self._idle.get(target.origin)
        if idle:
            idle.pop().send(attempt, reused=True)
        else:
            self._connect(attempt)

    def close(self) -> None:
        """Close every connection (on the loop's thread, once nothing is in flight)."""
        for connection in list(self._open):
            connection.close()
        self._idle.clear()

    def _connect(self, attempt: _Attempt) -> None:
        task = self._loop.create_task(self._open_connection(attempt))
        task.add_done_callback(_quiet)

    async def _open_connection(self, attempt: _Attempt) -> None:
        scheme, host, port = attempt.origin
        context = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            context = self._tls
        try:
            _, connection = await self._loop.create_connection(
                lambda: _Connection(self, attempt.origin), host, port, ssl=context
            )
        except (OSError, ValueError) as exc:  # refused, unreachable, bad certificate, ...
            # Named with the host: "Name or service not known" alone does not say which.
            attempt.finish(
                None, f"cannot connect to {host}:{port}: {str(exc) or type(exc).__name__}"
            )
            return
        if attempt.finished:  # timed out while connecting
            connection.close()
            return
        connection.send(attempt, reused=False)

    def _timed_out(self, attempt: _Attempt) -> None:
        attempt.timer = None
        attempt.finish(None, "timed out")
        connection = attempt.connection
        if connection is not None and connection.attempt is attempt:
            connection.attempt = None  # its answer, if any, would come too late
            connection.close()

    def _forget(self, connection: _Connection) -> None:
        self._open.discard(connection)
        idle = self._idle.get(connection.origin)
        if idle and connection in idle:
            idle.remove(connection)


def _quiet(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so a loop shutting down logs nothing

"""The SMTP server: :class:`MailHandler` on its own event-loop thread, on the plain SMTP port
(STARTTLS offered when TLS is set up) and on the implicit-TLS port.

aiosmtpd's ``Controller`` cannot bind port 0 (its start-up self-test connects to the port it
was given), so :class:`SmtpServer` runs ``loop.create_server`` itself and reads the port back.
The implicit-TLS port accepts connections itself: it looks at the first byte a client sends
before the handshake, so a client speaking plain SMTP there is told what to do in words.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import ssl
import threading
import weakref
from typing import Any, cast

from mailbot_sandbox.core.services import Services
from mailbot_sandbox.errors import ConfigError
from mailbot_sandbox.smtp.handler import MailHandler
from mailbot_sandbox.smtp.protocol import TLS_RECORD_START, TolerantSMTP
from mailbot_sandbox.smtp.writer import InFlight, LoopWriter

log = logging.getLogger("mailbot_sandbox.smtp")
DRAIN_SECONDS = 10.0
# A TLS client sends its handshake as soon as it connects; silence this long on the SMTPS port
# means a plain SMTP client waiting for a banner, which is then told to use TLS.
FIRST_BYTE_SECONDS = 3.0
HANDSHAKE_SECONDS = 30.0
PLAIN_ON_TLS_PORT = (
    b"554 5.7.0 This port speaks TLS from the first byte (implicit TLS, SMTPS): "
    b"connect with TLS, or use STARTTLS on the SMTP port\r\n"
)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (not on Windows), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class SmtpServer:
    """Runs :class:`MailHandler` on ``host:port`` (0 lets the OS choose).

    With ``tls`` (a server-side SSL context) it offers STARTTLS and serves implicit TLS on
    ``smtps_port``. With ``port=None`` (and ``smtps_port=None``) it listens nowhere and serves
    the connections handed to :meth:`adopt`.
    """

    def __init__(
        self,
        services: Services,
        host: str,
        port: int | None,
        *,
        tls: ssl.SSLContext | None = None,
        smtps_port: int | None = None,
    ) -> None:
        self.services = services
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.tls = tls
        self.requested_smtps_port = smtps_port if tls is not None else None
        self.smtps_port: int | None = None
        # What a client that starts TLS on the plain port is told to use instead.
        self.advertised_smtps_port: int | None = smtps_port or None
        self._smtps_listener: socket.socket | None = None
        self._smtps_accepting: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._writer: LoopWriter | None = None
        self._in_flight: InFlight | None = None
        self._stopping = False
        # Every session, closed at stop: no asyncio server closes adopted ones or the SMTPS
        # port's. Held by protocol, as uvloop's TLS transports cannot be weakly referenced.
        self._sessions: weakref.WeakSet[TolerantSMTP] = weakref.WeakSet()
        self._tasks: set[asyncio.Task[None]] = set()

    def _factory(self, implicit_tls: bool = False) -> TolerantSMTP:
        self.services.metrics.smtp_sessions.inc()  # asyncio calls this once per accepted connection
        assert self._in_flight is not None and self._writer is not None
        handler = MailHandler(self.services, self._writer, self._in_flight)
        session = TolerantSMTP(
            handler,
            implicit_tls=implicit_tls,
            require_tls=self.services.config.smtp_require_tls and self.tls is not None,
            smtps_port=self.smtps_port or self.advertised_smtps_port,
            tls_context=self.tls,
            hostname="mailbot-sandbox",  # given, so aiosmtpd makes no reverse-DNS look-up
            data_size_limit=self.services.config.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            ident="ESMTP",  # the banner: "220 mailbot-sandbox ESMTP"
            authenticator=handler.authenticate,
        )
        self._sessions.add(session)
        return session

    def start(self) -> None:
        """Bind and serve; raises :class:`ConfigError` when the port cannot be bound."""
        self._thread = threading.Thread(target=self._run, name="mailbot-smtp", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            if isinstance(self._error, OSError):
                what, port = getattr(self._error, "listening", ("SMTP", self.requested_port))
                raise ConfigError(
                    f"cannot listen for {what} on {self.host}:{port}: "
                    f"{self._error.strerror or self._error}"
                )
            raise self._error

    def _run(self) -> None:
        loop = new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._in_flight = InFlight()
        self._writer = LoopWriter(self.services.store, loop)
        try:
            if self.requested_port is not None:
                self._server = loop.run_until_complete(
                    loop.create_server(self._factory, host=self.host, port=self.requested_port)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            if self.requested_smtps_port is not None:
                self._listen_smtps(loop, self.requested_smtps_port)
        except BaseException as exc:  # re-raised in start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._close_smtps()
            if self._server is not None:
                self._server.close()
                loop.run_until_complete(self._server.wait_closed())
            for session in list(self._sessions):
                if session.transport is not None:  # still open
                    cast(asyncio.Transport, session.transport).abort()
            self._writer.close()  # a transaction it already has the lock for runs below
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def stop(self) -> None:
        """Stop accepting, let messages being stored finish (and get their 250), then close
        every session; returns when the thread has ended."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            drained = asyncio.run_coroutine_threadsafe(self._drain(), self._loop)
            try:
                drained.result(timeout=DRAIN_SECONDS + 1)
            except Exception:  # a stuck client must not keep the process alive
                log.warning("SMTP sessions still busy at shutdown; closing them")
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def _listen_smtps(self, loop: asyncio.AbstractEventLoop, port: int) -> None:
        try:
            listener = socket.create_server(
                (self.host, port),
                family=socket.AF_INET6 if ":" in self.host else socket.AF_INET,
                backlog=128,
            )
        except OSError as exc:
            exc.listening = ("SMTPS", port)  # type: ignore[attr-defined]
            raise
        listener.setblocking(False)
        self._smtps_listener = listener
        self.smtps_port = listener.getsockname()[1]
        self._smtps_accepting = loop.create_task(self._accept_smtps(listener))

    async def _accept_smtps(self, listener: socket.socket) -> None:
        assert self._loop is not None
        while True:
            try:
                connection, _ = await self._loop.sock_accept(listener)
            except OSError:
                if self._stopping or listener.fileno() < 0:
                    return
                log.warning("accepting an SMTPS connection failed; going on", exc_info=True)
                continue
            self._start(self._serve_implicit_tls(connection))

    def _close_smtps(self) -> None:
        if self._smtps_accepting is not None:
            self._smtps_accepting.cancel()
            self._smtps_accepting = None
        if self._smtps_listener is not None:
            self._smtps_listener.close()
            self._smtps_listener = None

    async def _serve_implicit_tls(self, connection: socket.socket) -> None:
        """Serve a connection of the SMTPS port: TLS from its first byte, else a plain reply."""
        assert self._loop is not None and self.tls is not None
        loop = self._loop
        connection.setblocking(False)
        peer = _peer_of(connection)
        try:
            first = await asyncio.wait_for(_first_bytes(loop, connection), FIRST_BYTE_SECONDS)
        except TimeoutError:
            first = None  # a plain SMTP client waits for a banner that never comes
        except OSError:
            connection.close()
            return
        if first == b"":  # closed without a word
            connection.close()
            return
        if first is None or not first.startswith(TLS_RECORD_START[:1]):
            log.info("plain text on the SMTPS port from %s; told to use TLS", peer)
            with contextlib.suppress(OSError):
                connection.send(PLAIN_ON_TLS_PORT)
            connection.close()
            return
        try:
            await loop.connect_accepted_socket(
                functools.partial(self._factory, True),
                connection,
                ssl=self.tls,
                ssl_handshake_timeout=HANDSHAKE_SECONDS,
            )
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            reason = getattr(exc, "reason", None) or type(exc).__name__
            log.info("TLS handshake on the SMTPS port with %s failed: %s", peer, reason)
            connection.close()

    def _start(self, work: Any) -> None:
        assert self._loop is not None
        task = self._loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def adopt(self, connection: socket.socket, *, implicit_tls: bool = False) -> None:
        """Serve an SMTP session on a connection accepted by someone else (any thread);
        ``implicit_tls`` for one of the SMTPS port."""
        if self._loop is None or self._loop.is_closed():
            connection.close()
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(self._adopt, connection, implicit_tls)

    def _adopt(self, connection: socket.socket, implicit_tls: bool = False) -> None:
        assert self._loop is not None
        if self._stopping or (implicit_tls and self.tls is None):
            connection.close()
            return
        if implicit_tls:
            self._start(self._serve_implicit_tls(connection))
            return

        async def connect() -> None:
            try:
                await self._loop.connect_accepted_socket(  # type: ignore[union-attr]
                    self._factory, connection
                )
            except OSError:
                connection.close()
                return

        self._start(connect())

    async def _drain(self) -> None:
        self._stopping = True
        self._close_smtps()
        if self._server is not None:
            self._server.close()
        if self._in_flight is not None:
            await asyncio.wait_for(self._in_flight.idle.wait(), DRAIN_SECONDS)

    @property
    def serving(self) -> bool:
        """True while sessions are served (on its port, or handed over by a supervisor)."""
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    def info(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "smtps_port": self.smtps_port}


async def _first_bytes(loop: asyncio.AbstractEventLoop, connection: socket.socket) -> bytes:
    """The first bytes a client sent, left in the socket for the TLS layer to read."""
    ready: asyncio.Future[None] = loop.create_future()
    fd = connection.fileno()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    return connection.recv(2, socket.MSG_PEEK)


def _peer_of(connection: socket.socket) -> str:
    try:
        peer = connection.getpeername()
    except OSError:
        return "a client"
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "a client"

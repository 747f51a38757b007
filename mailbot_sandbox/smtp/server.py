"""The SMTP server: :class:`MailHandler` on its own event-loop thread.

aiosmtpd's ``Controller`` cannot bind port 0 (its start-up self-test connects to the port it
was given), so :class:`SmtpServer` runs ``loop.create_server`` itself and reads the port back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import weakref
from typing import Any

from mailbot_sandbox.core.services import Services
from mailbot_sandbox.errors import ConfigError
from mailbot_sandbox.smtp.handler import MailHandler
from mailbot_sandbox.smtp.protocol import TolerantSMTP
from mailbot_sandbox.smtp.writer import InFlight, LoopWriter

log = logging.getLogger("mailbot_sandbox.smtp")
DRAIN_SECONDS = 10.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (not on Windows), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class SmtpServer:
    """Runs :class:`MailHandler` on ``host:port`` (0 lets the OS choose).

    With ``port=None`` it listens nowhere and serves the connections handed to :meth:`adopt`.
    """

    def __init__(self, services: Services, host: str, port: int | None) -> None:
        self.services = services
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._writer: LoopWriter | None = None
        self._in_flight: InFlight | None = None
        self._stopping = False
        self._transports: weakref.WeakSet[asyncio.Transport] = weakref.WeakSet()
        self._tasks: set[asyncio.Task[None]] = set()

    def _factory(self) -> TolerantSMTP:
        self.services.metrics.smtp_sessions.inc()  # asyncio calls this once per accepted connection
        assert self._in_flight is not None and self._writer is not None
        handler = MailHandler(self.services, self._writer, self._in_flight)
        return TolerantSMTP(
            handler,
            hostname="mailbot-sandbox",  # given, so aiosmtpd makes no reverse-DNS look-up
            data_size_limit=self.services.config.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            ident="ESMTP",  # the banner: "220 mailbot-sandbox ESMTP"
            authenticator=handler.authenticate,
            auth_require_tls=False,  # local sink: there is no TLS to require
        )

    def start(self) -> None:
        """Bind and serve; raises :class:`ConfigError` when the port cannot be bound."""
        self._thread = threading.Thread(target=self._run, name="mailbot-smtp", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            if isinstance(self._error, OSError):
                raise ConfigError(
                    f"cannot listen for SMTP on {self.host}:{self.requested_port}: "
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
        except BaseException as exc:  # re-raised in start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            if self._server is not None:
                self._server.close()
                loop.run_until_complete(self._server.wait_closed())
            for transport in list(self._transports):  # adopted sessions: no server closes them
                transport.abort()
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

    def adopt(self, connection: socket.socket) -> None:
        """Serve an SMTP session on a connection accepted by someone else (any thread)."""
        if self._loop is None or self._loop.is_closed():
            connection.close()
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(self._adopt, connection)

    def _adopt(self, connection: socket.socket) -> None:
        assert self._loop is not None
        if self._stopping:
            connection.close()
            return

        async def connect() -> None:
            try:
                transport, _ = await self._loop.connect_accepted_socket(  # type: ignore[union-attr]
                    self._factory, connection
                )
            except OSError:
                connection.close()
                return
            self._transports.add(transport)

        task = self._loop.create_task(connect())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.close()
        if self._in_flight is not None:
            await asyncio.wait_for(self._in_flight.idle.wait(), DRAIN_SECONDS)

    @property
    def serving(self) -> bool:
        """True while sessions are served (on its port, or handed over by a supervisor)."""
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    def info(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port}

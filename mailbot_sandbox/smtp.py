"""The SMTP side: an aiosmtpd server on its own event-loop thread.

aiosmtpd's ``Controller`` cannot bind port 0 (its start-up self-test connects to the port it
was given), so :class:`SmtpServer` runs ``loop.create_server`` itself and reads the port back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from mailbot_sandbox.errors import ConfigError
from mailbot_sandbox.services import Services

log = logging.getLogger("mailbot_sandbox.smtp")


class MailHandler:
    """aiosmtpd handler: refuses each recipient with the right code, stores on DATA."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self.services.delivery.refuse_recipient(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.services.delivery.receive_smtp(
            mail_from=envelope.mail_from or "",
            recipients=list(envelope.rcpt_tos),
            raw=envelope.original_content or b"",
        )


class SmtpServer:
    """Runs :class:`MailHandler` on ``host:port`` (0 lets the OS choose)."""

    def __init__(self, services: Services, host: str, port: int) -> None:
        self.services = services
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _factory(self) -> SMTP:
        return SMTP(
            MailHandler(self.services),
            hostname="mailbot-sandbox",  # given, so aiosmtpd makes no reverse-DNS look-up
            data_size_limit=self.services.config.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            ident="mailbot-sandbox ESMTP",
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
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
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
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def stop(self) -> None:
        """Stop accepting and close every session; returns when the thread has ended."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def info(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port}

"""The SMTP protocol layer: aiosmtpd's server with room for real-world mail, a faster DATA,
and TLS (STARTTLS, implicit TLS, TLS required) with clear replies to clients that get it wrong.

Overrides private methods of aiosmtpd's ``SMTP`` (``_reset_timeout``, ``_getaddr``,
``smtp_DATA``) and reads ``_tls_protocol``; the upper bound of aiosmtpd in ``pyproject.toml``
is pinned for that reason.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, cast

from aiosmtpd.smtp import SMTP, Session, TLSSetupException

log = logging.getLogger("mailbot_sandbox.smtp")

# The first bytes of a TLS handshake record (content type 22, version 3.x).
TLS_RECORD_START = b"\x16\x03"
TLS_REQUIRED = "530 5.7.0 Must issue a STARTTLS command first (this server requires TLS)"
TLS_ACTIVE = "503 5.5.1 TLS is already active on this connection"


def tls_before_starttls(smtps_port: int | None) -> str:
    """The reply to a TLS handshake sent to the plain SMTP port before STARTTLS."""
    where = f"port {smtps_port}" if smtps_port else "the SMTPS port"
    return (
        "554 5.7.0 This is plain SMTP: send STARTTLS before the TLS handshake, "
        f"or connect to {where} for TLS from the first byte\r\n"
    )


class _PrintableArgs(logging.Filter):
    """aiosmtpd logs a command it does not know as it came (``unrecognised: ...``): bytes from
    a client speaking another protocol would reach the log raw. Escape what is not printable."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_printable(arg) for arg in record.args)
        return True


def _printable(value: Any) -> Any:
    if isinstance(value, bytes):
        return repr(value)
    if isinstance(value, str) and not value.isprintable():
        return value.encode("unicode_escape").decode("ascii")
    return value


logging.getLogger("mail.log").addFilter(_PrintableArgs())

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
# "<local@domain>" with dot-atom parts, and the blanks after it: what most clients send.
# Control characters but tab: aiosmtpd echoes an unknown command word in its 500 reply, and a
# CR, LF or NUL there would cut or corrupt the reply line the client parses.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_PLAIN_PATH = re.compile(rf"[ \t]*<({_DOT_ATOM}@{_DOT_ATOM})>[ \t]*")


class QuietSession(Session):
    """aiosmtpd's session without the deprecation warning of ``login_data``: aiosmtpd
    itself sets that attribute on every successful AUTH, and its setter warns each time,
    though nothing here reads it (the handler keeps the login in ``auth_data``)."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class TolerantSMTP(SMTP):
    """aiosmtpd's server with room for real-world mail, and a faster DATA phase.

    RFC 5321 caps lines at 1,000 bytes, but senders with 100 KB headers exist, and a test sink
    must store what they send: commands may be 1 MiB long, and message lines have no limit.
    aiosmtpd reads DATA one line at a time (about 80 awaits for a 5 KB message);
    :meth:`smtp_DATA` reads up to each ``.<CRLF>`` instead and unstuffs the dots in one pass,
    with the same replies and the same size limit.
    """

    line_length_limit = 1024 * 1024

    def _create_session(self) -> Session:
        return QuietSession(self.loop)

    def __init__(
        self,
        handler: Any,
        *,
        implicit_tls: bool = False,
        require_tls: bool = False,
        smtps_port: int | None = None,
        **settings: Any,
    ) -> None:
        """``implicit_tls``: the connection is TLS from its first byte (the SMTPS port), so
        STARTTLS is neither offered nor needed. ``require_tls``: MAIL and AUTH wait for
        STARTTLS (530 5.7.0). ``smtps_port`` is named to a client that starts a TLS handshake
        on the plain port. The other ``settings`` are aiosmtpd's."""
        if implicit_tls:
            settings["tls_context"] = None
        settings["auth_require_tls"] = require_tls and not implicit_tls  # no AUTH offered
        super().__init__(handler, **settings)
        self.implicit_tls = implicit_tls
        self.tls_required = require_tls and not implicit_tls
        self.smtps_port = smtps_port
        self._first_data = not implicit_tls

    @property
    def encrypted(self) -> bool:
        """Whether this session runs over TLS (implicit, or after STARTTLS)."""
        return self.implicit_tls or self._tls_protocol is not None

    def data_received(self, data: bytes) -> None:
        if self._first_data:
            self._first_data = False
            # A client configured for implicit TLS, sent to the STARTTLS port, opens with a
            # handshake instead of waiting for the banner: say so instead of "500 bad syntax".
            if data.startswith(TLS_RECORD_START) and self.transport is not None:
                log.info(
                    "TLS handshake on the plain SMTP port from %s; told to use STARTTLS",
                    _peer(self),
                )
                transport = cast(asyncio.Transport, self.transport)
                transport.write(tls_before_starttls(self.smtps_port).encode())
                self.transport.close()
                return
        super().data_received(data)

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self.encrypted:
            await self.push(TLS_ACTIVE)
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_MAIL(self, arg: str | None) -> None:
        if self.tls_required and not self.encrypted:
            await self.push(TLS_REQUIRED)
            return
        await super().smtp_MAIL(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        if self.tls_required and not self.encrypted:
            await self.push(TLS_REQUIRED)
            return
        await super().smtp_AUTH(arg)

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, TLSSetupException):  # the connection is closed after this
            cause = error.__cause__
            reason = getattr(cause, "reason", None) or type(cause).__name__
            log.info("STARTTLS handshake with %s failed: %s", _peer(self), reason)
            return "454 4.7.0 TLS handshake failed"
        return await super().handle_exception(error)

    def _reset_timeout(self, duration: float | None = None) -> None:
        # aiosmtpd cancels and re-arms a timer on every command. Here the deadline moves and
        # the one timer, when it fires early, re-arms itself for what is left.
        self._idle_deadline = self.loop.time() + (duration or self._timeout_duration)
        handle = self._timeout_handle
        if handle is None or handle.when() > self._idle_deadline:
            if handle is not None:
                handle.cancel()
            self._timeout_handle = self.loop.call_at(self._idle_deadline, self._idle_check)

    def _idle_check(self) -> None:
        left = self._idle_deadline - self.loop.time()
        if left > 0:
            self._timeout_handle = self.loop.call_later(left, self._idle_check)
        else:
            self._timeout_cb()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd parses every MAIL and RCPT address with the email package's full header
        # grammar (and builds a class per call to do it). A plain <local@domain> needs none
        # of that; anything else (quotes, comments, literals, UTF-8, <>) still goes there.
        plain = _PLAIN_PATH.match(arg)
        if plain is None:
            return super()._getaddr(arg)
        address = plain.group(1)
        if self.local_part_limit and address.index("@") > self.local_part_limit:
            return None, None
        return address, arg[plain.end() :]

    async def push(self, status: Any) -> None:
        """Send one reply line, with any control character in its text shown as ``?``."""
        if isinstance(status, str):
            status = _CONTROL.sub("?", status)
        await super().push(status)

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content = await read_data(self._reader, self.data_size_limit)
        except asyncio.CancelledError:
            log.info("connection lost during DATA")
            self._writer.close()
            raise
        if content is None:
            await self.push("552 Error: Too much mail data")
            self._set_post_data_state()
            return
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)


def _peer(protocol: SMTP) -> str:
    peer = protocol.session.peer if protocol.session is not None else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return "a client"


async def read_data(reader: asyncio.StreamReader, limit: int | None) -> bytes | None:
    """The message after DATA's 354, up to the lone ``.`` line, with dots unstuffed
    (RFC 5321 4.5.2); None when it is longer than ``limit`` (all of it is read regardless)."""
    chunks: list[bytes] = []
    size = 0
    tail = b"\r\n"  # the bytes before the newest chunk; the message starts a line
    while True:
        try:
            chunk = await reader.readuntil(b".\r\n")
        except asyncio.LimitOverrunError as exc:  # no ".<CRLF>" within the reader's limit yet
            chunk = await reader.read(exc.consumed)
            ends = False
        else:  # the end only when that dot starts a line
            ends = (tail + chunk[-5:]).endswith(b"\r\n.\r\n")
        size += len(chunk)
        if not limit or size <= limit + 3:
            chunks.append(chunk)
        if ends:
            break
        tail = (tail + chunk[-2:])[-2:]
    if limit and size - 3 > limit:
        return None
    data = b"".join(chunks)[:-3]  # without the closing ".\r\n"
    if b"\r\n." in data:
        data = data.replace(b"\r\n.", b"\r\n")
    if data.startswith(b"."):
        data = data[1:]
    return data

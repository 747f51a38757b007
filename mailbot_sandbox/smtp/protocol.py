"""The SMTP protocol layer: aiosmtpd's server with room for real-world mail and a faster DATA.

Overrides private methods of aiosmtpd's ``SMTP`` (``_reset_timeout``, ``_getaddr``,
``smtp_DATA``); the upper bound of aiosmtpd in ``pyproject.toml`` is pinned for that reason.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from aiosmtpd.smtp import SMTP, Session

log = logging.getLogger("mailbot_sandbox.smtp")

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

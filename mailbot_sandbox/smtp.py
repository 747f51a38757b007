"""The SMTP side: an aiosmtpd server on its own event-loop thread.

aiosmtpd's ``Controller`` cannot bind port 0 (its start-up self-test connects to the port it
was given), so :class:`SmtpServer` runs ``loop.create_server`` itself and reads the port back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailbot_sandbox import metrics, validation
from mailbot_sandbox.accounts import Account
from mailbot_sandbox.delivery import check_can_send
from mailbot_sandbox.errors import ApiError, ConfigError, Forbidden
from mailbot_sandbox.mime import parse_message
from mailbot_sandbox.services import Services
from mailbot_sandbox.store import Store

log = logging.getLogger("mailbot_sandbox.smtp")
T = TypeVar("T")
DRAIN_SECONDS = 10.0
RETRY_SECONDS = 0.0003  # between tries for the write lock another process holds


@dataclass(frozen=True)
class Submitter:
    """Who authenticated an SMTP session: an inbox, by its address and its account's key."""

    account: Account
    inbox_id: str
    address: str


class InFlight:
    """How many messages are being stored right now; shutdown waits for none."""

    def __init__(self) -> None:
        self.count = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def add(self, delta: int) -> None:
        self.count += delta
        if self.count:
            self.idle.clear()
        else:
            self.idle.set()


class LoopWriter:
    """Stores messages on the event loop's own thread, one transaction per loop turn.

    Jobs submitted while the loop is busy (other sessions finishing DATA at the same moment)
    run together in one transaction; each job is a savepoint in it, so a failing one rolls
    back alone. A job's future resolves only after the COMMIT: its session's 250 never
    acknowledges what is not on disk. Doing this on the loop rather than on a writer
    thread spares two thread switches per message, which under the GIL cost more than the
    writes themselves.
    """

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        self._store = store
        self._loop = loop
        self._pending: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []

    def submit(self, job: Callable[[], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = self._loop.create_future()
        if not self._pending:
            self._loop.call_soon(self._commit)
        self._pending.append((job, future))
        return future

    def _commit(self) -> None:
        batch = self._pending
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            with self._store.write_nowait() as db:
                if db is None:
                    # Another process is writing. Waiting for it here would stall every
                    # session of this loop; instead try again shortly, and whatever arrives
                    # meanwhile joins this batch.
                    self._loop.call_later(RETRY_SECONDS, self._commit)
                    return
                self._pending = []
                for job, future in batch:
                    try:
                        with self._store.write():  # a savepoint: this job alone on failure
                            outcomes.append((future, job(), None))
                    except Exception as exc:  # handed to that job's session
                        outcomes.append((future, None, exc))
        except Exception as exc:  # the commit failed: nothing of the batch is stored
            self._pending = [item for item in self._pending if item not in batch]
            outcomes = [(future, None, exc) for _, future in batch]
        for future, value, error in outcomes:
            if future.cancelled():
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)


class MailHandler:
    """aiosmtpd handler.

    Without AUTH the session delivers to sandbox inboxes: each recipient is accepted or refused
    at RCPT with the contract's code. After AUTH (user = an inbox address, password = its
    account's API key) the session sends *from* that inbox, under the same rules as the API.
    """

    def __init__(self, services: Services, writer: LoopWriter, in_flight: InFlight) -> None:
        self.services = services
        self.in_flight = in_flight
        self._writer = writer

    async def _stored(self, call: Callable[..., T], *args: Any) -> T:
        return await self._writer.submit(lambda: call(*args))

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        invalid = AuthResult(
            success=False,
            handled=False,
            message="535 5.7.8 user must be an inbox address and password "
            "the API key of its account",
        )
        if not isinstance(auth_data, LoginPassword):
            return invalid
        address = auth_data.login.decode("utf-8", "replace").strip().lower()
        key = auth_data.password.decode("utf-8", "replace").strip()
        try:
            account = self.services.accounts.for_key(key)
        except ApiError:
            return invalid
        inbox = self.services.inboxes.find_by_address(address, account_id=account.id)
        if inbox is None or inbox["account_id"] != account.id:
            return invalid
        return AuthResult(success=True, auth_data=Submitter(account, inbox["id"], address))

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        submitter = session.auth_data
        if isinstance(submitter, Submitter):
            try:
                check_can_send(self.services.inboxes.row(submitter.account, submitter.inbox_id))
            except Forbidden as exc:
                code = "5.2.1" if exc.code.startswith("inbox_") else "5.7.1"
                return f"550 {code} {exc.message}"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if isinstance(session.auth_data, Submitter):
            try:
                validation.email_address(address, "recipient")
            except ApiError:
                return f"553 5.1.3 <{address}>: not a valid address"
        else:
            refusal = self.services.delivery.refuse_recipient(address)  # one indexed read
            if refusal:
                return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.in_flight.add(1)
        try:
            return await self._store_data(session, envelope)
        finally:
            self.in_flight.add(-1)

    async def _store_data(self, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        # Parsed and routed here, on the loop: only the writes need the shared write lock.
        content = parse_message(raw)
        submitter = session.auth_data
        if isinstance(submitter, Submitter):
            return await self._stored(
                self.services.delivery.submit_smtp,
                submitter.account,
                submitter.inbox_id,
                list(envelope.rcpt_tos),
                raw,
                content,
            )
        recipients = list(envelope.rcpt_tos)
        return await self._stored(
            self.services.delivery.receive_smtp,
            envelope.mail_from or "",
            recipients,
            raw,
            content,
            self.services.delivery.smtp_targets(recipients),
        )


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
# "<local@domain>" with dot-atom parts, and the blanks after it: what most clients send.
_PLAIN_PATH = re.compile(rf"[ \t]*<({_DOT_ATOM}@{_DOT_ATOM})>[ \t]*")


class TolerantSMTP(SMTP):
    """aiosmtpd's server with room for real-world mail, and a faster DATA phase.

    RFC 5321 caps lines at 1,000 bytes, but senders with 100 KB headers exist, and a test sink
    must store what they send: commands may be 1 MiB long, and message lines have no limit.
    aiosmtpd reads DATA one line at a time (about 80 awaits for a 5 KB message);
    :meth:`smtp_DATA` reads up to each ``.<CRLF>`` instead and unstuffs the dots in one pass,
    with the same replies and the same size limit.
    """

    line_length_limit = 1024 * 1024

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
        metrics.count("smtp_sessions")  # asyncio calls this once per accepted connection
        assert self._in_flight is not None and self._writer is not None
        handler = MailHandler(self.services, self._writer, self._in_flight)
        return TolerantSMTP(
            handler,
            hostname="mailbot-sandbox",  # given, so aiosmtpd makes no reverse-DNS look-up
            data_size_limit=self.services.config.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            ident="mailbot-sandbox ESMTP",
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

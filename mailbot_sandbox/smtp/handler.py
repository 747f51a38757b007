"""The aiosmtpd handler: what each SMTP command means for the sandbox's inboxes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.policy import InjectedFault, Refused, may_send, within_recipient_cap
from mailbot_sandbox.core.services import Services
from mailbot_sandbox.errors import ApiError
from mailbot_sandbox.mail.addresses import parse_address
from mailbot_sandbox.mail.parse import parse_message
from mailbot_sandbox.smtp import replies
from mailbot_sandbox.smtp.writer import InFlight, LoopWriter
from mailbot_sandbox.store.faults import Scope

T = TypeVar("T")


@dataclass(frozen=True)
class Submitter:
    """Who authenticated an SMTP session: an inbox, by its address and its account's key."""

    account: Account
    inbox_id: str
    address: str


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
            message=replies.AUTH_INVALID,
        )
        if not isinstance(auth_data, LoginPassword):
            return invalid
        address = auth_data.login.decode("utf-8", "replace").strip().lower()
        key = auth_data.password.decode("utf-8", "replace").strip()
        try:
            account = self.services.accounts.for_key(key)
        except ApiError:
            return invalid
        try:
            inbox = self.services.inboxes.find_by_address(address, account_id=account.id)
        except Refused:  # held by several other accounts, so not by this one
            return invalid
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
            reason = may_send(
                self.services.inboxes.row(submitter.account, submitter.inbox_id)
            ) or self.services.delivery.refuse_sender(submitter.address, address)
            if reason is not None:
                return replies.refusal(reason)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return replies.SENDER_OK

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if any(address.lower() == named.lower() for named in envelope.rcpt_tos):
            return replies.RECIPIENT_OK  # named twice: one copy, as for any other MTA
        too_many = within_recipient_cap(len(envelope.rcpt_tos) + 1)
        if too_many is not None:
            return replies.refusal(too_many)
        if isinstance(session.auth_data, Submitter):
            if parse_address(address) is None:
                return replies.invalid_address(address)
        else:
            reason = self.services.delivery.refuse_recipient(address)  # one indexed read
            if reason is None:
                reason = await self._injected_fault(address)
            if reason is not None:
                return replies.refusal(reason)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RECIPIENT_OK

    async def _injected_fault(
        self, address: str, submitter: Submitter | None = None
    ) -> InjectedFault | None:
        """Apply a fault injected on the inbox at ``address`` to this delivery to it (or, for
        a ``submitter``, this submission from it): wait its latency on the loop, so only this
        session waits, then use up one failure if any is left."""
        faults = self.services.faults
        if submitter is None:
            fault = faults.pending_at(address, "receive")
        else:
            fault = faults.pending(submitter.inbox_id, "send")
        if fault is None:
            return None
        if fault["latency_ms"]:
            await asyncio.sleep(fault["latency_ms"] / 1000)
        if not fault["fail_next"]:
            return None
        scope: Scope = "receive" if submitter is None else "send"
        return await self._stored(faults.take, fault["inbox_id"], address, scope)

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
            fault = await self._injected_fault(submitter.address, submitter)
            if fault is not None:
                return replies.refusal(fault)
            sent = await self._stored(
                self.services.delivery.submit_smtp,
                submitter.account,
                submitter.inbox_id,
                list(envelope.rcpt_tos),
                raw,
                content,
            )
            return replies.reply(sent)
        recipients = list(envelope.rcpt_tos)
        received = await self._stored(
            self.services.delivery.receive_smtp,
            envelope.mail_from or "",
            recipients,
            raw,
            content,
            self.services.delivery.smtp_route(recipients),
        )
        return replies.reply(received)

"""The one way mail moves: API sends and replies, SMTP in, SMTP submission, injection.

Each entry point works out what to store and asks :mod:`~mailbot_sandbox.core.policy` whether
it may; sending itself (the rules again inside the storing transaction, the daily count, the
recipients' copies) is :class:`~mailbot_sandbox.core.sending.Sender`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mailbot_sandbox.config import Config
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.core.drafts import InjectedMail, NewMessage, ReplyDraft
from mailbot_sandbox.core.engagement import Engagement
from mailbot_sandbox.core.faults import Faults
from mailbot_sandbox.core.inboxes import Inboxes, InboxRow
from mailbot_sandbox.core.messages import MessageRow, Messages
from mailbot_sandbox.core.outbox import listed_attachments
from mailbot_sandbox.core.policy import (
    NoRecipientLeft,
    Reason,
    Refused,
    may_deliver_to,
    may_receive,
    may_send_as,
    refusal,
    within_recipient_cap,
    within_size,
)
from mailbot_sandbox.core.sending import Sender, check_can_send, inbound_copy
from mailbot_sandbox.errors import InvalidRequest
from mailbot_sandbox.ids import format_time, new_id
from mailbot_sandbox.mail.compose import build_message, new_message_id
from mailbot_sandbox.mail.message import ParsedMail
from mailbot_sandbox.mail.parse import parse_message
from mailbot_sandbox.mail.text import reply_subject
from mailbot_sandbox.metrics import Metrics
from mailbot_sandbox.store import Store, outbox


@dataclass(frozen=True)
class Received:
    """Mail taken in: one stored copy per recipient inbox, and the outbox entry of the
    local account when the catch-all captured outside recipients."""

    message_ids: tuple[str, ...]
    captured_id: str | None = None


@dataclass(frozen=True)
class SmtpRoute:
    """Where SMTP mail goes now: the inboxes that take it, and the outside addresses the
    catch-all captures."""

    inboxes: list[InboxRow] = field(default_factory=list)
    captured: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Sent:
    """Mail sent from an inbox: the sender's stored copy."""

    message_id: str


class Delivery:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: Config,
        inboxes: Inboxes,
        messages: Messages,
        metrics: Metrics,
        engagement: Engagement,
        faults: Faults,
        local_account: Callable[[], Account] | None = None,
    ) -> None:
        """``local_account`` gives the account where the catch-all keeps plain SMTP mail to
        outside addresses; without it such mail is refused as unknown."""
        self._store = store
        self._faults = faults
        self._metrics = metrics
        self._local_account = local_account
        self._clock = clock
        self._config = config
        self._inboxes = inboxes
        self._messages = messages
        self._sender = Sender(store, clock, config, inboxes, messages, metrics, engagement)

    # -- SMTP -------------------------------------------------------------------------------------
    def refuse_recipient(self, address: str) -> Reason | None:
        """Why mail to ``address`` is refused, or None when an inbox there takes it or the
        catch-all captures it."""
        try:
            inbox = self._inboxes.find_by_address(address)
        except Refused as exc:
            return exc.reason
        return may_deliver_to(
            inbox,
            address,
            shared_domain=self._config.shared_domain,
            catch_all=self._local_account is not None,
        )

    def smtp_route(self, recipients: list[str]) -> SmtpRoute:
        """Where mail for these recipients (accepted at RCPT) goes now: one copy per inbox
        that is still active and may receive, however often named; the addresses no inbox
        holds to the catch-all."""
        targets: dict[str, InboxRow] = {}  # by inbox id: one copy per inbox, however named
        captured: list[str] = []
        for address in recipients:
            try:
                inbox = self._inboxes.find_by_address(address)
            except Refused:
                continue
            if inbox is None:
                if self.refuse_recipient(address) is None:
                    captured.append(address.lower())
            elif may_receive(inbox, address) is None:
                targets.setdefault(inbox["id"], inbox)  # else changed since RCPT
        return SmtpRoute(list(targets.values()), list(dict.fromkeys(captured)))

    def receive_smtp(
        self,
        mail_from: str,
        recipients: list[str],
        raw: bytes,
        content: ParsedMail | None = None,
        route: SmtpRoute | None = None,
    ) -> Received | NoRecipientLeft:
        """Store a received message once per recipient inbox, and capture it once for the
        outside recipients; what was stored, or why nothing was.

        ``content`` (``parse_message(raw)``) and ``route`` (:meth:`smtp_route`) are given
        when the caller worked them out already: outside the write transaction, where the
        other processes need not wait for that work."""
        content = content or parse_message(raw)
        if not content.from_address:
            content.from_address = mail_from
        if route is None:
            route = self.smtp_route(recipients)
        local = self._local_account() if route.captured and self._local_account else None
        stored: list[MessageRow] = []
        captured_id: str | None = None
        if route.inboxes or local is not None:
            with self._store.write() as db:
                raw_id = self._messages.store_raw(db.conn, raw)
                for inbox in route.inboxes:
                    stored.append(
                        inbound_copy(self._messages, db.conn, inbox, content, raw_id, len(raw))
                    )
                if local is not None:
                    captured_id = new_id("out")
                    outbox.insert_caught(
                        db.conn,
                        captured_id,
                        account_id=local.id,
                        mail_from=mail_from,
                        recipients=route.captured,
                        raw_id=raw_id,
                        created_at=format_time(self._clock.now(local.id)),
                        subject=content.subject,
                        body_text=content.body_text,
                        body_html=content.body_html,
                        to_addresses=content.to_addresses,
                        cc_addresses=content.cc_addresses,
                        size=len(raw),
                        attachments=listed_attachments(content),
                    )
        if not stored and captured_id is None:
            return NoRecipientLeft()
        if stored:
            self._messages.published([row["inbox_id"] for row in stored])
            self._metrics.messages_received.inc(len(stored))
        return Received(tuple(row["id"] for row in stored), captured_id)

    def refuse_sender(self, address: str, sender: str) -> Reason | None:
        """Why a session logged in as the inbox ``address`` may not use ``sender`` as its
        envelope sender, or None (always None with the sender check off)."""
        if not self._config.smtp_sender_check:
            return None
        return may_send_as(address, sender, "envelope")

    def submit_smtp(
        self,
        account: Account,
        inbox_id: str,
        recipients: list[str],
        raw: bytes,
        content: ParsedMail | None = None,
    ) -> Sent | Reason:
        """Send ``raw`` from an inbox whose address and key authenticated the SMTP session
        (``content``: as for :meth:`receive_smtp`); the sender's copy, or why nothing was
        sent."""
        too_large = within_size(len(raw), self._config.max_message_size)
        if too_large is not None:
            return too_large
        content = content or parse_message(raw)
        inbox = self._inboxes.row(account, inbox_id)
        if content.from_address and self._config.smtp_sender_check:
            spoofed = may_send_as(inbox["address"], content.from_address, "From")
            if spoofed is not None:
                return spoofed
        content.from_address = content.from_address or inbox["address"]
        in_headers = {a.lower() for a in content.to_addresses + content.cc_addresses}
        bcc = [a for a in recipients if a.lower() not in in_headers]
        try:
            raw = self._sender.signed(account, inbox, raw)
            row = self._sender.dispatch(account, inbox_id, content, raw, recipients, bcc=bcc)
        except Refused as exc:
            return exc.reason
        return Sent(row["id"])

    # -- API ---------------------------------------------------------------------------------------
    def send(self, account: Account, inbox_id: str, message: NewMessage) -> MessageRow:
        """``POST /v1/inboxes/{id}/messages``: build, deliver; the sender's copy."""
        inbox = self._inboxes.row(account, inbox_id)
        check_can_send(inbox)
        named = {a.lower() for a in [*message.to, *message.cc, *message.bcc]}
        too_many = within_recipient_cap(len(named))
        if too_many is not None:
            raise refusal(too_many)
        self._faults.before_api_send(inbox)
        return self._sender.compose_and_send(
            account, inbox, message, to=message.to, subject=message.subject
        )

    def reply(
        self, account: Account, inbox_id: str, message_id: str, draft: ReplyDraft
    ) -> MessageRow:
        """Reply in the parent's thread: one ``Re:``, In-Reply-To and References set."""
        parent = self._messages.get(account, inbox_id, message_id)
        inbox = self._inboxes.row(account, inbox_id)
        check_can_send(inbox)
        self._faults.before_api_send(inbox)
        own = inbox["address"].lower()
        if parent["direction"] == "inbound":
            to = parent["reply_to"] or [parent["from_address"]]
            if draft.reply_all:
                to = to + [
                    a for a in parent["to_addresses"] + parent["cc_addresses"] if a.lower() != own
                ]
        else:
            to = list(parent["to_addresses"])
        to = [a for a in dict.fromkeys(to) if a]
        if not to:
            raise InvalidRequest(f"message {message_id} has no address to reply to")
        references = [*parent["references"], parent["message_id_header"]]
        return self._sender.compose_and_send(
            account,
            inbox,
            draft,
            to=to,
            subject=reply_subject(parent["subject"]),
            in_reply_to=parent["message_id_header"],
            references=[r for r in references if r],
            thread_id=parent["thread_id"],
        )

    def inject(self, account: Account, inbox_id: str, message: bytes | InjectedMail) -> MessageRow:
        """Control plane: deliver a message (raw bytes, or composed here) into an inbox as if
        it came over SMTP."""
        inbox = self._inboxes.row(account, inbox_id)
        raw = message if isinstance(message, bytes) else self._injected_bytes(inbox, message)
        reason = may_receive(inbox) or within_size(len(raw), self._config.max_message_size)
        if reason is not None:
            raise refusal(reason, injected=True)
        content = parse_message(raw)
        with self._store.write() as db:
            row = self._messages.insert(
                db.conn,
                account_id=account.id,
                inbox_id=inbox_id,
                direction="inbound",
                status="received",
                content=content,
                raw_id=self._messages.store_raw(db.conn, raw),
                size=len(raw),
            )
        self._messages.published([inbox_id])
        self._metrics.messages_received.inc()
        return row

    def _injected_bytes(self, inbox: InboxRow, mail: InjectedMail) -> bytes:
        return build_message(
            from_address=mail.from_address,
            from_name=None,
            to=mail.to if mail.to is not None else [inbox["address"]],
            cc=[],
            subject=mail.subject,
            body_text=mail.body_text,
            body_html=mail.body_html,
            message_id=new_message_id(mail.from_address.rpartition("@")[2]),
            date=self._clock.now(inbox["account_id"]),
            headers=mail.headers,
        )

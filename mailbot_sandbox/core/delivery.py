"""The one way mail moves: API sends and replies, SMTP in, SMTP submission, injection.

Each entry point works out what to store and asks :mod:`~mailbot_sandbox.core.policy` whether
it may; sending itself (the rules again inside the storing transaction, the daily count, the
recipients' copies) is :class:`~mailbot_sandbox.core.sending.Sender`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailbot_sandbox.config import Config
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.core.drafts import InjectedMail, NewMessage, ReplyDraft
from mailbot_sandbox.core.inboxes import Inboxes, InboxRow
from mailbot_sandbox.core.messages import MessageRow, Messages
from mailbot_sandbox.core.policy import (
    NoRecipientLeft,
    Reason,
    Refused,
    may_deliver_to,
    may_receive,
    refusal,
    within_recipient_cap,
    within_size,
)
from mailbot_sandbox.core.sending import Sender, check_can_send, inbound_copy
from mailbot_sandbox.errors import InvalidRequest
from mailbot_sandbox.mail.compose import build_message, new_message_id
from mailbot_sandbox.mail.message import ParsedMail
from mailbot_sandbox.mail.parse import parse_message
from mailbot_sandbox.mail.text import reply_subject
from mailbot_sandbox.metrics import Metrics
from mailbot_sandbox.store import Store


@dataclass(frozen=True)
class Received:
    """Mail taken in: one stored copy per recipient inbox."""

    message_ids: tuple[str, ...]


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
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._config = config
        self._inboxes = inboxes
        self._messages = messages
        self._sender = Sender(store, clock, config, inboxes, messages, metrics)

    # -- SMTP --------------------------------------------------------------------------------------
    def refuse_recipient(self, address: str) -> Reason | None:
        """Why mail to ``address`` is refused, or None when an inbox there takes mail."""
        try:
            return may_deliver_to(self._inboxes.find_by_address(address), address)
        except Refused as exc:
            return exc.reason

    def smtp_targets(self, recipients: list[str]) -> list[InboxRow]:
        """The inboxes that take mail for these recipients now (one per address accepted at
        RCPT that is still active and may receive)."""
        targets: dict[str, InboxRow] = {}  # by inbox id: one copy per inbox, however named
        for address in recipients:
            try:
                inbox = self._inboxes.find_by_address(address)
            except Refused:
                continue
            if inbox is not None and may_receive(inbox, address) is None:
                targets.setdefault(inbox["id"], inbox)  # else changed since RCPT
        return list(targets.values())

    def receive_smtp(
        self,
        mail_from: str,
        recipients: list[str],
        raw: bytes,
        content: ParsedMail | None = None,
        targets: list[InboxRow] | None = None,
    ) -> Received | NoRecipientLeft:
        """Store a received message once per recipient inbox; the stored copies, or why none
        was stored.

        ``content`` (``parse_message(raw)``) and ``targets`` (:meth:`smtp_targets`) are
        given when the caller worked them out already: outside the write transaction, where
        the other processes need not wait for that work."""
        content = content or parse_message(raw)
        if not content.from_address:
            content.from_address = mail_from
        if targets is None:
            targets = self.smtp_targets(recipients)
        stored: list[MessageRow] = []
        if targets:
            with self._store.write() as db:
                raw_id = self._messages.store_raw(db.conn, raw)
                for inbox in targets:
                    stored.append(
                        inbound_copy(self._messages, db.conn, inbox, content, raw_id, len(raw))
                    )
        if not stored:
            return NoRecipientLeft()
        self._messages.published([row["inbox_id"] for row in stored])
        self._metrics.messages_received.inc(len(stored))
        return Received(tuple(row["id"] for row in stored))

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

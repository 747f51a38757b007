"""The one way mail moves: API sends and replies, SMTP in, SMTP submission, injection.

Every rule of an inbox (status, permissions, daily send limit) is checked here, inside the
transaction that stores the mail, so racing senders are counted exactly and nothing is
stored when a rule refuses.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from mailbot_sandbox.config import Config
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock, seconds_to_midnight, utc_day
from mailbot_sandbox.core.drafts import Draft, InjectedMail, NewMessage, ReplyDraft
from mailbot_sandbox.core.inboxes import Inboxes, InboxRow
from mailbot_sandbox.core.messages import MessageRow, Messages
from mailbot_sandbox.core.policy import (
    NoRecipientLeft,
    Reason,
    Refused,
    may_deliver_to,
    may_receive,
    may_send,
    refusal,
    within_daily_limit,
    within_size,
)
from mailbot_sandbox.errors import InvalidRequest
from mailbot_sandbox.ids import new_id
from mailbot_sandbox.mail.compose import build_message, new_message_id
from mailbot_sandbox.mail.message import ParsedMail
from mailbot_sandbox.mail.parse import parse_message
from mailbot_sandbox.mail.text import reply_subject
from mailbot_sandbox.metrics import Metrics
from mailbot_sandbox.store import Store, outbox, sends

SIMULATED = {"delivered": "delivered", "bounce": "bounced", "complaint": "complained"}
_STATUS_RANK = {"sent": 0, "delivered": 1, "bounced": 2, "complained": 3}


@dataclass(frozen=True)
class Received:
    """Mail taken in: one stored copy per recipient inbox."""

    message_ids: tuple[str, ...]


@dataclass(frozen=True)
class Sent:
    """Mail sent from an inbox: the sender's stored copy."""

    message_id: str


def check_can_send(inbox: InboxRow) -> None:
    """Raise :class:`~mailbot_sandbox.core.policy.Refused` unless the inbox may send now."""
    reason = may_send(inbox)
    if reason is not None:
        raise refusal(reason)


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
        self._simulator_domain = f"simulator.{config.shared_domain}"

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
        targets = []
        for address in recipients:
            try:
                inbox = self._inboxes.find_by_address(address)
            except Refused:
                continue
            if inbox is not None and may_receive(inbox, address) is None:
                targets.append(inbox)  # else changed since RCPT; the others still get it
        return targets

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
                    stored.append(self._inbound_copy(db.conn, inbox, content, raw_id, len(raw)))
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
            row = self._dispatch(account, inbox_id, content, raw, recipients, bcc=bcc)
        except Refused as exc:
            return exc.reason
        return Sent(row["id"])

    # -- API ---------------------------------------------------------------------------------------
    def send(self, account: Account, inbox_id: str, message: NewMessage) -> MessageRow:
        """``POST /v1/inboxes/{id}/messages``: build, deliver; the sender's copy."""
        inbox = self._inboxes.row(account, inbox_id)
        check_can_send(inbox)
        return self._compose_and_send(
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
        return self._compose_and_send(
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

    # -- composing -------------------------------------------------------------------------------
    def _compose_and_send(
        self,
        account: Account,
        inbox: InboxRow,
        draft: Draft,
        *,
        to: list[str],
        subject: str,
        in_reply_to: str | None = None,
        references: list[str] | None = None,
        thread_id: str | None = None,
    ) -> MessageRow:
        cc, bcc, reply_to = draft.cc, draft.bcc, draft.reply_to
        body_text, body_html, attachments = draft.body_text, draft.body_html, draft.attachments
        message_id = new_message_id(inbox["domain"])
        raw = build_message(
            from_address=inbox["address"],
            from_name=inbox["display_name"],
            to=to,
            cc=cc,
            subject=subject,
            body_text=body_text,
            body_html=body_html,
            message_id=message_id,
            date=self._clock.now(account.id),
            reply_to=reply_to,
            in_reply_to=in_reply_to,
            references=references,
            headers=draft.headers,
            attachments=attachments,
        )
        too_large = within_size(len(raw), self._config.max_message_size)
        if too_large is not None:
            raise refusal(too_large)
        content = ParsedMail(
            from_address=inbox["address"],
            from_name=inbox["display_name"],
            subject=subject,
            to_addresses=to,
            cc_addresses=cc,
            reply_to=reply_to,
            body_text=body_text,
            body_html=body_html,
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=references or [],
            attachments=attachments,
        )
        return self._dispatch(
            account,
            inbox["id"],
            content,
            raw,
            [*to, *cc, *bcc],
            bcc=bcc,
            labels=draft.labels,
            thread_id=thread_id,
            track_opens=draft.track_opens,
            track_clicks=draft.track_clicks,
        )

    def _dispatch(
        self,
        account: Account,
        inbox_id: str,
        content: ParsedMail,
        raw: bytes,
        recipients: list[str],
        *,
        bcc: list[str],
        labels: list[str] | None = None,
        thread_id: str | None = None,
        track_opens: bool = False,
        track_clicks: bool = False,
    ) -> MessageRow:
        """Count the send, store the sender's copy, deliver or capture each recipient."""
        recipients = list(dict.fromkeys(a.lower() for a in recipients))
        touched: list[str] = [inbox_id]
        with self._store.write() as db:
            conn = db.conn
            inbox = self._inboxes.row(account, inbox_id)  # fresh, inside the transaction
            check_can_send(inbox)
            self._count_send(conn, account, inbox)
            raw_id = self._messages.store_raw(conn, raw)
            sent = self._messages.insert(
                conn,
                account_id=account.id,
                inbox_id=inbox_id,
                direction="outbound",
                status="sent",
                content=content,
                raw_id=raw_id,
                size=len(raw),
                bcc=bcc,
                labels=labels,
                thread_id=thread_id,
                track_opens=track_opens,
                track_clicks=track_clicks,
            )
            status, external = "sent", []
            for address in recipients:
                outcome = self._route(conn, account.id, address, content, raw_id, len(raw), touched)
                if outcome == "external":
                    external.append(address)
                elif _STATUS_RANK[outcome] > _STATUS_RANK[status]:
                    status = outcome
            if external:
                outbox.insert_captured(
                    conn,
                    new_id("out"),
                    account_id=account.id,
                    inbox_id=inbox_id,
                    message_id=sent["id"],
                    mail_from=inbox["address"],
                    recipients=external,
                    raw_id=raw_id,
                    created_at=sent["created_at"],
                )
            if status != "sent":
                self._messages.set_status(conn, sent["id"], status)
                sent["status"] = status
        self._messages.published(touched)
        self._metrics.messages_sent.inc()
        if len(touched) > 1:  # deliveries to sandbox inboxes
            self._metrics.messages_received.inc(len(touched) - 1)
        return sent

    def _inbound_copy(
        self,
        conn: sqlite3.Connection,
        inbox: InboxRow,
        content: ParsedMail,
        raw_id: int,
        size: int,
    ) -> MessageRow:
        """Store a received copy in ``inbox``; its row, JSON columns left as text."""
        return self._messages.insert(
            conn,
            account_id=inbox["account_id"],
            inbox_id=inbox["id"],
            direction="inbound",
            status="received",
            content=content,
            raw_id=raw_id,
            size=size,
        )

    def _route(
        self,
        conn: sqlite3.Connection,
        sender_account_id: str,
        address: str,
        content: ParsedMail,
        raw_id: int,
        size: int,
        touched: list[str],
    ) -> str:
        """Deliver to one recipient; returns ``delivered``, ``bounced``, ``complained`` or
        ``external`` (captured, never leaves the machine)."""
        local, _, domain = address.rpartition("@")
        if domain == self._simulator_domain:
            return SIMULATED.get(local, "bounced")
        try:
            inbox = self._inboxes.find_by_address(address, account_id=sender_account_id)
        except Refused:
            return "bounced"
        if inbox is None:
            return "bounced" if domain == self._config.shared_domain else "external"
        if may_receive(inbox, address) is not None:
            return "bounced"
        self._inbound_copy(conn, inbox, content, raw_id, size)
        touched.append(inbox["id"])
        return "delivered"

    def _count_send(self, conn: sqlite3.Connection, account: Account, inbox: InboxRow) -> None:
        now = self._clock.now(account.id)
        day = utc_day(now)
        over = within_daily_limit(
            inbox, sends.sends_on(conn, inbox["id"], day), seconds_to_midnight(now)
        )
        if over is not None:
            raise refusal(over)
        sends.count_send(conn, inbox["id"], day)

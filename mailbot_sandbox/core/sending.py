"""Sending from an inbox: compose the bytes, then, in one write transaction, check the rules
again, count the send against the daily limit, store the sender's copy and route each
recipient (a sandbox inbox, a simulator outcome, or the outbox of captured external mail).

Checking inside the transaction is what makes racing senders count exactly and leaves
nothing stored when a rule refuses.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace

from mailbot_sandbox.config import Config
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock, seconds_to_midnight, utc_day
from mailbot_sandbox.core.drafts import Draft
from mailbot_sandbox.core.engagement import Engagement, Tracked
from mailbot_sandbox.core.inboxes import Inboxes, InboxRow
from mailbot_sandbox.core.messages import MessageRow, Messages
from mailbot_sandbox.core.outbox import listed_attachments
from mailbot_sandbox.core.policy import (
    Refused,
    may_receive,
    may_send,
    may_send_from_domain,
    refusal,
    within_daily_limit,
    within_size,
)
from mailbot_sandbox.ids import new_id
from mailbot_sandbox.mail import dkim
from mailbot_sandbox.mail.compose import build_message, new_message_id
from mailbot_sandbox.mail.message import ParsedMail
from mailbot_sandbox.mail.parse import parse_headers
from mailbot_sandbox.metrics import Metrics
from mailbot_sandbox.store import Store, domains, outbox, sends

SIMULATED = {"delivered": "delivered", "bounce": "bounced", "complaint": "complained"}
_STATUS_RANK = {"sent": 0, "delivered": 1, "bounced": 2, "complained": 3}


@dataclass(frozen=True)
class RecipientCopy:
    """What recipients get when it differs from the sender's copy (tracked mail): its
    fields, its bytes and the tokens its pixel and links carry."""

    content: ParsedMail
    raw: bytes
    tracked: Tracked


def check_can_send(inbox: InboxRow) -> None:
    """Raise :class:`~mailbot_sandbox.core.policy.Refused` unless the inbox may send now."""
    reason = may_send(inbox)
    if reason is not None:
        raise refusal(reason)


def inbound_copy(
    messages: Messages,
    conn: sqlite3.Connection,
    inbox: InboxRow,
    content: ParsedMail,
    raw_id: int,
    size: int,
) -> MessageRow:
    """Store a received copy of a message in ``inbox``; its row."""
    return messages.insert(
        conn,
        account_id=inbox["account_id"],
        inbox_id=inbox["id"],
        direction="inbound",
        status="received",
        content=content,
        raw_id=raw_id,
        size=size,
    )


class Sender:
    """Sends one message from one inbox; :class:`~mailbot_sandbox.core.delivery.Delivery`
    decides what to send (API send, reply, SMTP submission)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: Config,
        inboxes: Inboxes,
        messages: Messages,
        metrics: Metrics,
        engagement: Engagement,
    ) -> None:
        self._engagement = engagement
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._config = config
        self._inboxes = inboxes
        self._messages = messages
        self._simulator_domain = f"simulator.{config.shared_domain}"

    def signed(self, account: Account, inbox: InboxRow, raw: bytes) -> bytes:
        """``raw`` DKIM-signed with the key of the inbox's custom domain, as a receiving
        server would verify it against the domain's published record. Mail from the shared
        domain (the hot path) is never signed, and costs not even a look-up.

        Raises:
            Refused: :class:`~mailbot_sandbox.core.policy.ComplianceBlocked`, strict policy
                and the domain is not verified (any more).
        """
        if inbox["domain"] == self._config.shared_domain:
            return raw
        domain = domains.find_domain(self._store, account.id, inbox["domain"])
        if self._config.domain_policy == "strict":
            blocked = may_send_from_domain(inbox["domain"], domain and domain["status"])
            if blocked is not None:
                raise refusal(blocked)
        if domain is None:  # not registered here (erased by a reset): nothing to sign with
            return raw
        return dkim.sign(
            raw,
            domain=domain["domain"],
            selector=domain["selector"],
            private_key_pem=domain["dkim_private_key"],
        )

    def compose_and_send(
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
        date = self._clock.now(account.id)

        def compose(html: str | None) -> bytes:
            return build_message(
                from_address=inbox["address"],
                from_name=inbox["display_name"],
                to=to,
                cc=cc,
                subject=subject,
                body_text=body_text,
                body_html=html,
                message_id=message_id,
                date=date,
                reply_to=reply_to,
                in_reply_to=in_reply_to,
                references=references,
                headers=draft.headers,
                attachments=attachments,
            )

        raw = compose(body_html)
        too_large = within_size(len(raw), self._config.max_message_size)
        if too_large is not None:
            raise refusal(too_large)
        raw = self.signed(account, inbox, raw)
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
            headers=parse_headers(raw),
        )
        # Tracking changes only what recipients get; the sender's copy stays as composed.
        tracked = self._engagement.track(
            body_html, opens=draft.track_opens, clicks=draft.track_clicks
        )
        copy = None
        if tracked.tokens:
            copy = RecipientCopy(
                replace(content, body_html=tracked.html),
                self.signed(account, inbox, compose(tracked.html)),
                tracked,
            )
        return self.dispatch(
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
            recipient_copy=copy,
        )

    def dispatch(
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
        recipient_copy: RecipientCopy | None = None,
    ) -> MessageRow:
        """Count the send, store the sender's copy, deliver or capture each recipient
        (``recipient_copy`` instead of the sender's when given)."""
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
            delivered, delivered_raw_id, delivered_size = content, raw_id, len(raw)
            if recipient_copy is not None:
                self._engagement.keep_tokens(conn, sent, recipient_copy.tracked)
                delivered = recipient_copy.content
                delivered_raw_id = self._messages.store_raw(conn, recipient_copy.raw)
                delivered_size = len(recipient_copy.raw)
            status, external, outcomes = "sent", [], []
            for address in recipients:
                outcome = self._route(
                    conn, account.id, address, delivered, delivered_raw_id, delivered_size, touched
                )
                if outcome == "external":
                    external.append(address)
                    continue
                outcomes.append(outcome)
                if _STATUS_RANK[outcome] > _STATUS_RANK[status]:
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
                    raw_id=delivered_raw_id,
                    created_at=sent["created_at"],
                    attachments=listed_attachments(content),
                )
            if status != "sent":
                self._messages.set_status(conn, sent["id"], status)
                sent["status"] = status
            self._engagement.record_outcomes(conn, sent, outcomes)
        self._messages.published(touched)
        self._metrics.messages_sent.inc()
        if len(touched) > 1:  # deliveries to sandbox inboxes
            self._metrics.messages_received.inc(len(touched) - 1)
        return sent

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
        inbound_copy(self._messages, conn, inbox, content, raw_id, size)
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

"""Stored messages: insertion (inside delivery's transaction), reads, labels, search, waits."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime

from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.core.events import Events
from mailbot_sandbox.core.inboxes import Inboxes
from mailbot_sandbox.core.notify import Notifier
from mailbot_sandbox.core.policy import may_search, refusal
from mailbot_sandbox.core.threads import Threads
from mailbot_sandbox.errors import InvalidRequest, NotFound, WaitTimeout
from mailbot_sandbox.ids import format_time, new_id
from mailbot_sandbox.mail.message import ParsedMail
from mailbot_sandbox.mail.parse import parse_headers
from mailbot_sandbox.search.index import SearchIndex
from mailbot_sandbox.search.query import parse_query
from mailbot_sandbox.store import Store, messages, search
from mailbot_sandbox.store.messages import (
    AttachmentInfo,
    AttachmentRow,
    MessageFilter,
    MessageRow,
    NewAttachment,
)

DIRECTIONS = ("inbound", "outbound")
MAX_WAIT_MS = 120_000
DEFAULT_WAIT_MS = 25_000
SEARCH_TOTAL_CAP = 10_000


class Messages:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        inboxes: Inboxes,
        threads: Threads,
        notifier: Notifier,
        index: SearchIndex,
        events: Events,
    ) -> None:
        self._index = index
        self._events = events
        self._store = store
        self._clock = clock
        self._inboxes = inboxes
        self._threads = threads
        self._notifier = notifier

    # -- writes: called inside Store.write() ------------------------------------------------------
    @staticmethod
    def store_raw(conn: sqlite3.Connection, raw: bytes) -> int:
        """Keep the message bytes exactly as given; copies of one message share them."""
        return messages.insert_blob(conn, raw)

    def insert(
        self,
        conn: sqlite3.Connection,
        *,
        account_id: str,
        inbox_id: str,
        direction: str,
        status: str,
        content: ParsedMail,
        raw_id: int,
        size: int,
        bcc: list[str] | None = None,
        labels: list[str] | None = None,
        thread_id: str | None = None,
        track_opens: bool = False,
        track_clicks: bool = False,
    ) -> MessageRow:
        """Store one copy of a message in one inbox and file it in a thread of that inbox;
        the row as the API shows it.

        The row's lists are the caller's own (``content``'s, ``bcc``, ``labels``), not
        copies: the hot paths store several copies of one message, and nothing mutates them.
        """
        now = self._clock.now(account_id)
        created_at = format_time(now)
        if thread_id is None:
            thread_id = self._threads.resolve(
                conn,
                inbox_id,
                in_reply_to=content.in_reply_to,
                references=content.references,
                subject=content.subject,
                now=now,
            )
        participants = [
            a for a in [content.from_address, *content.to_addresses, *content.cc_addresses] if a
        ]
        thread_id = self._threads.add_message(
            conn,
            thread_id,
            account_id=account_id,
            inbox_id=inbox_id,
            subject=content.subject,
            participants=participants,
            created_at=created_at,
        )
        row = MessageRow(
            seq=0,
            id=new_id("msg"),
            account_id=account_id,
            inbox_id=inbox_id,
            thread_id=thread_id,
            direction=direction,
            status=status,
            message_id_header=content.message_id,
            in_reply_to=content.in_reply_to,
            references=content.references,
            from_address=content.from_address,
            from_name=content.from_name,
            to_addresses=content.to_addresses,
            cc_addresses=content.cc_addresses,
            bcc_addresses=bcc or [],
            reply_to=content.reply_to,
            subject=content.subject,
            body_text=content.body_text,
            body_html=content.body_html,
            labels=labels or [],
            size=size,
            has_attachments=int(bool(content.attachments)),
            raw_id=raw_id,
            track_opens=int(track_opens),
            track_clicks=int(track_clicks),
            created_at=created_at,
            headers=content.headers,
        )
        attachments = [
            NewAttachment(
                id=new_id("att"),
                filename=attachment.filename,
                content_type=attachment.content_type,
                content_id=attachment.content_id,
                inline=attachment.inline,
                content=attachment.content,
            )
            for attachment in content.attachments
        ]
        row["seq"] = messages.insert_message(conn, row, attachments)
        self._events.message(
            conn,
            "message.received" if direction == "inbound" else "message.sent",
            row,
            [
                AttachmentInfo(
                    id=a["id"],
                    filename=a["filename"],
                    content_type=a["content_type"],
                    size=len(a["content"]),
                )
                for a in attachments
            ],
        )
        return row

    def set_status(self, conn: sqlite3.Connection, message_id: str, status: str) -> None:
        messages.set_status(conn, message_id, status)

    def published(self, inbox_ids: list[str]) -> None:
        """Tell waiters of these inboxes, and the search index, that mail arrived (once the
        transaction storing it has committed)."""

        def tell() -> None:
            self._notifier.publish(inbox_ids)
            self._index.notify()

        self._store.after_commit(tell)

    # -- reads -----------------------------------------------------------------------------------
    def get(self, account: Account, inbox_id: str, message_id: str) -> MessageRow:
        row = messages.get_message(self._store, account.id, message_id, inbox_id)
        if row is None:
            self._inboxes.row(account, inbox_id)  # an unknown inbox is named first
            raise NotFound(f"message {message_id!r} not found in inbox {inbox_id!r}")
        return row

    def find(self, account: Account, message_id: str) -> MessageRow:
        """A message of any inbox of this account."""
        row = messages.get_message(self._store, account.id, message_id)
        if row is None:
            raise NotFound(f"message {message_id!r} not found")
        return row

    def attachments_of(self, seqs: list[int]) -> dict[int, list[AttachmentInfo]]:
        return messages.attachments_of(self._store, seqs)

    def headers_of(self, row: MessageRow) -> list[tuple[str, str]]:
        """A message's headers as received, in order (read from its bytes when it was
        stored before headers were kept)."""
        if row["headers"] is not None:
            return row["headers"]
        return parse_headers(messages.raw_bytes(self._store, row["raw_id"]))

    def raw(self, account: Account, inbox_id: str, message_id: str) -> bytes:
        return messages.raw_bytes(self._store, self.get(account, inbox_id, message_id)["raw_id"])

    def attachment(
        self, account: Account, inbox_id: str, message_id: str, attachment_id: str
    ) -> AttachmentRow:
        message = self.get(account, inbox_id, message_id)
        row = messages.get_attachment(self._store, message["seq"], attachment_id)
        if row is None:
            raise NotFound(f"attachment {attachment_id!r} not found in message {message_id!r}")
        return row

    def inline_parts(self, account: Account, inbox_id: str, message_id: str) -> list[AttachmentRow]:
        """The parts of a message its HTML names by ``cid:`` (images, mostly)."""
        return messages.inline_parts(self._store, self.get(account, inbox_id, message_id)["seq"])

    def thread_messages(self, thread_id: str) -> list[MessageRow]:
        return messages.thread_messages(self._store, thread_id)

    def list_page(
        self,
        account: Account,
        inbox_id: str,
        *,
        page: int,
        limit: int,
        direction: str | None = None,
        thread_id: str | None = None,
        label: str | None = None,
        from_address: str | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
    ) -> tuple[list[MessageRow], int]:
        """Newest first; each filter given narrows the page (``after``/``before``: created
        strictly after or before that moment)."""
        self._inboxes.row(account, inbox_id)
        match = MessageFilter(
            inbox_id,
            direction=direction,
            thread_id=thread_id,
            label=label,
            from_address=from_address.strip() if from_address else None,
            created_after=format_time(after) if after else None,
            created_before=format_time(before) if before else None,
        )
        return messages.message_page(self._store, match, limit=limit, offset=(page - 1) * limit)

    def search(
        self, account: Account, inbox_id: str, query: str, limit: int
    ) -> tuple[list[MessageRow], int]:
        """Messages of one inbox matching ``query``; needs the inbox's ``search`` permission."""
        inbox = self._inboxes.row(account, inbox_id)
        denied = may_search(inbox)
        if denied is not None:
            raise refusal(denied)
        parsed = parse_query(query)
        self._index.catch_up()  # so that mail stored a moment ago is found
        try:
            return search.search_page(
                self._store, inbox_id, parsed, limit=limit, count_cap=SEARCH_TOTAL_CAP
            )
        except search.SearchRefused as exc:  # an FTS syntax corner the parser let by
            raise InvalidRequest(f"cannot search for {query!r}: {exc}", field="query") from None

    def set_labels(
        self, account: Account, inbox_id: str, message_id: str, labels: list[str]
    ) -> MessageRow:
        message = self.get(account, inbox_id, message_id)
        messages.set_labels(self._store, message["id"], labels)
        return self.get(account, inbox_id, message_id)

    # -- waiting ---------------------------------------------------------------------------------
    def wait(
        self,
        account: Account,
        inbox_id: str,
        *,
        direction: str = "inbound",
        from_address: str | None = None,
        subject_contains: str | None = None,
        timeout_ms: int = DEFAULT_WAIT_MS,
        after_message: str | None = None,
        after_time: datetime | None = None,
    ) -> MessageRow:
        """The matching message: with ``after_message`` (an id) or ``after_time``, the earliest
        one after it; without, the newest existing one. If none, block until one arrives or
        ``timeout_ms`` passes.

        Raises:
            InvalidRequest: ``after_message`` is no message of this account.
            WaitTimeout: nothing matched in time.
        """
        self._inboxes.row(account, inbox_id)
        after_seq = self._position_of(account, after_message) if after_message else None
        created_after = format_time(after_time) if after_time else None
        after = after_message or created_after
        match = MessageFilter(
            inbox_id,
            direction=None if direction == "any" else direction,
            from_address=from_address.strip() if from_address else None,
            subject_contains=subject_contains or None,
            after_seq=after_seq,
            created_after=created_after,
        )
        deadline = time.monotonic() + timeout_ms / 1000
        with self._notifier.waiting():
            while True:
                seen = self._notifier.version(inbox_id)
                row = messages.first_match(self._store, match, newest=not after)
                if row is not None:
                    return row
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._notifier.wait(inbox_id, seen, remaining):
                    raise WaitTimeout(
                        f"no matching message arrived in inbox {inbox_id} within {timeout_ms} ms",
                        details={
                            "direction": direction,
                            "from_address": from_address,
                            "subject_contains": subject_contains,
                            "after": after,
                            "timeout_ms": timeout_ms,
                        },
                    )

    def _position_of(self, account: Account, message_id: str) -> int:
        seq = messages.seq_of(self._store, account.id, message_id)
        if seq is None:
            raise InvalidRequest(f"after: message {message_id!r} not found", field="after")
        return seq

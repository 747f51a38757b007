"""Stored messages: insertion (inside delivery's transaction), reads, labels, search, waits."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.core.inboxes import Inboxes
from mailbot_sandbox.core.notify import Notifier
from mailbot_sandbox.core.policy import may_search, refusal
from mailbot_sandbox.core.threads import Threads
from mailbot_sandbox.errors import InvalidRequest, NotFound, WaitTimeout
from mailbot_sandbox.ids import format_time, new_id, parse_time
from mailbot_sandbox.mail.message import ParsedMail
from mailbot_sandbox.search.index import SearchIndex
from mailbot_sandbox.search.query import compile_query
from mailbot_sandbox.store import Store

DIRECTIONS = ("inbound", "outbound")
MAX_WAIT_MS = 120_000
DEFAULT_WAIT_MS = 25_000
SEARCH_TOTAL_CAP = 10_000
_JSON_COLUMNS = (
    "references",
    "to_addresses",
    "cc_addresses",
    "bcc_addresses",
    "reply_to",
    "labels",
)


def decode(row: dict[str, Any]) -> dict[str, Any]:
    for name in _JSON_COLUMNS:
        row[name] = json.loads(row[name])
    return row


class Messages:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        inboxes: Inboxes,
        threads: Threads,
        notifier: Notifier,
        index: SearchIndex,
    ) -> None:
        self._index = index
        self._store = store
        self._clock = clock
        self._inboxes = inboxes
        self._threads = threads
        self._notifier = notifier

    # -- writes: called inside Store.write() ------------------------------------------------------
    @staticmethod
    def store_raw(conn: sqlite3.Connection, raw: bytes) -> int:
        """Keep the message bytes exactly as given; copies of one message share them."""
        return int(conn.execute("INSERT INTO blobs (data) VALUES (?)", [raw]).lastrowid or 0)

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
        decoded: bool = True,
    ) -> dict[str, Any]:
        """Store one copy of a message in one inbox and file it in a thread of that inbox;
        the row as the API shows it (with ``decoded=False`` its JSON columns stay text)."""
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
        message_id = new_id("msg")
        row = {
            "id": message_id,
            "account_id": account_id,
            "inbox_id": inbox_id,
            "thread_id": thread_id,
            "direction": direction,
            "status": status,
            "message_id_header": content.message_id,
            "in_reply_to": content.in_reply_to,
            "references": json.dumps(content.references),
            "from_address": content.from_address,
            "from_name": content.from_name,
            "to_addresses": json.dumps(content.to_addresses),
            "cc_addresses": json.dumps(content.cc_addresses),
            "bcc_addresses": json.dumps(bcc or []),
            "reply_to": json.dumps(content.reply_to),
            "subject": content.subject,
            "body_text": content.body_text,
            "body_html": content.body_html,
            "labels": json.dumps(labels or []),
            "size": size,
            "has_attachments": int(bool(content.attachments)),
            "raw_id": raw_id,
            "track_opens": int(track_opens),
            "track_clicks": int(track_clicks),
            "created_at": created_at,
        }
        columns = ", ".join(f'"{name}"' for name in row)
        cursor = conn.execute(
            f"INSERT INTO messages ({columns}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
        seq = cursor.lastrowid
        for attachment in content.attachments:
            conn.execute(
                "INSERT INTO attachments (id, message_seq, filename, content_type, size, "
                "content_id, inline, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    new_id("att"),
                    seq,
                    attachment.filename,
                    attachment.content_type,
                    len(attachment.content),
                    attachment.content_id,
                    int(attachment.inline),
                    attachment.content,
                ],
            )
        row["seq"] = seq
        return decode(row) if decoded else row

    def set_status(self, conn: sqlite3.Connection, message_id: str, status: str) -> None:
        conn.execute("UPDATE messages SET status = ? WHERE id = ?", [status, message_id])

    def published(self, inbox_ids: list[str]) -> None:
        """Tell waiters of these inboxes, and the search index, that mail arrived (once the
        transaction storing it has committed)."""

        def tell() -> None:
            self._notifier.publish(inbox_ids)
            self._index.notify()

        self._store.after_commit(tell)

    # -- reads -----------------------------------------------------------------------------------
    def get(self, account: Account, inbox_id: str, message_id: str) -> dict[str, Any]:
        row = self._store.row(
            "SELECT * FROM messages WHERE id = ? AND inbox_id = ? AND account_id = ?",
            [message_id, inbox_id, account.id],
        )
        if row is None:
            self._inboxes.row(account, inbox_id)  # an unknown inbox is named first
            raise NotFound(f"message {message_id!r} not found in inbox {inbox_id!r}")
        return decode(row)

    def find(self, account: Account, message_id: str) -> dict[str, Any]:
        """A message of any inbox of this account."""
        row = self._store.row(
            "SELECT * FROM messages WHERE id = ? AND account_id = ?", [message_id, account.id]
        )
        if row is None:
            raise NotFound(f"message {message_id!r} not found")
        return decode(row)

    def attachments_of(self, seqs: list[int]) -> dict[int, list[dict[str, Any]]]:
        if not seqs:
            return {}
        marks = ",".join("?" * len(seqs))
        found: dict[int, list[dict[str, Any]]] = {}
        for item in self._store.rows(
            f"SELECT id, message_seq, filename, content_type, size FROM attachments "
            f"WHERE message_seq IN ({marks}) ORDER BY rowid",
            seqs,
        ):
            found.setdefault(item.pop("message_seq"), []).append(item)
        return found

    def raw(self, account: Account, inbox_id: str, message_id: str) -> bytes:
        message = self.get(account, inbox_id, message_id)
        return bytes(self._store.scalar("SELECT data FROM blobs WHERE id = ?", [message["raw_id"]]))

    def attachment(
        self, account: Account, inbox_id: str, message_id: str, attachment_id: str
    ) -> dict[str, Any]:
        message = self.get(account, inbox_id, message_id)
        row = self._store.row(
            "SELECT * FROM attachments WHERE id = ? AND message_seq = ?",
            [attachment_id, message["seq"]],
        )
        if row is None:
            raise NotFound(f"attachment {attachment_id!r} not found in message {message_id!r}")
        return row

    def thread_messages(self, thread_id: str) -> list[dict[str, Any]]:
        return [
            decode(r)
            for r in self._store.rows(
                "SELECT * FROM messages WHERE thread_id = ? ORDER BY seq", [thread_id]
            )
        ]

    def list_page(
        self,
        account: Account,
        inbox_id: str,
        *,
        page: int,
        limit: int,
        filters: dict[str, str],
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first. ``filters``: direction, thread_id, label, from_address, after, before."""
        self._inboxes.row(account, inbox_id)
        where, params = ["inbox_id = ?"], [inbox_id]
        if "direction" in filters:
            where.append("direction = ?")
            params.append(filters["direction"])
        if "thread_id" in filters:
            where.append("thread_id = ?")
            params.append(filters["thread_id"])
        if "label" in filters:
            where.append("EXISTS (SELECT 1 FROM json_each(labels) WHERE json_each.value = ?)")
            params.append(filters["label"])
        if "from_address" in filters:
            where.append("lower(from_address) = lower(?)")
            params.append(filters["from_address"].strip())
        for name, operator in (("after", ">"), ("before", "<")):
            if name in filters:
                moment = parse_time(filters[name])
                if moment is None:
                    raise InvalidRequest(
                        f"{name} must be an ISO-8601 time, got {filters[name]!r}", field=name
                    )
                where.append(f"created_at {operator} ?")
                params.append(format_time(moment))
        clause = " AND ".join(where)
        total = self._store.scalar(f"SELECT count(*) FROM messages WHERE {clause}", params)
        rows = self._store.rows(
            f"SELECT * FROM messages WHERE {clause} ORDER BY seq DESC LIMIT ? OFFSET ?",
            [*params, limit, (page - 1) * limit],
        )
        return [decode(r) for r in rows], int(total)

    def search(
        self, account: Account, inbox_id: str, query: str, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Messages of one inbox matching ``query``; needs the inbox's ``search`` permission."""
        inbox = self._inboxes.row(account, inbox_id)
        denied = may_search(inbox)
        if denied is not None:
            raise refusal(denied)
        compiled = compile_query(query)
        self._index.catch_up()  # so that mail stored a moment ago is found
        where, params = ["m.inbox_id = ?"], [inbox_id]
        if compiled.match is not None:
            where.append("m.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)")
            params.append(compiled.match)
        where.extend(compiled.where)
        params.extend(compiled.params)
        clause = " AND ".join(where)
        try:
            # Counting stops at SEARCH_TOTAL_CAP: an exact count of 30,000 hits for a common
            # word costs hundreds of milliseconds and no caller pages that far.
            total = self._store.scalar(
                f"SELECT count(*) FROM (SELECT 1 FROM messages m WHERE {clause} LIMIT ?)",
                [*params, SEARCH_TOTAL_CAP],
            )
            # Sort only the keys, then read the page's rows: sorting whole rows is the slow part.
            page = self._store.rows(
                f"SELECT m.seq AS seq FROM messages m WHERE {clause} ORDER BY m.seq DESC LIMIT ?",
                [*params, limit],
            )
        except sqlite3.OperationalError as exc:  # an FTS syntax corner the compiler let by
            raise InvalidRequest(f"cannot search for {query!r}: {exc}", field="query") from None
        seqs = [r["seq"] for r in page]
        if not seqs:
            return [], int(total)
        rows = self._store.rows(
            f"SELECT * FROM messages WHERE seq IN ({','.join('?' * len(seqs))}) ORDER BY seq DESC",
            seqs,
        )
        return [decode(r) for r in rows], int(total)

    def set_labels(
        self, account: Account, inbox_id: str, message_id: str, labels: list[str]
    ) -> dict[str, Any]:
        message = self.get(account, inbox_id, message_id)
        with self._store.write() as db:
            db.conn.execute(
                "UPDATE messages SET labels = ? WHERE id = ?", [json.dumps(labels), message["id"]]
            )
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
        after: str | None = None,
    ) -> dict[str, Any]:
        """The matching message: with ``after``, the earliest one after it; without, the newest
        existing one. If none, block until one arrives or ``timeout_ms`` passes.

        Raises:
            WaitTimeout: nothing matched in time.
        """
        self._inboxes.row(account, inbox_id)
        where, params = ["inbox_id = ?"], [inbox_id]
        if direction != "any":
            where.append("direction = ?")
            params.append(direction)
        if from_address:
            where.append("lower(from_address) = lower(?)")
            params.append(from_address.strip())
        if subject_contains:
            where.append("instr(lower(subject), lower(?)) > 0")
            params.append(subject_contains)
        order = "DESC"
        if after:
            order = "ASC"
            where.append(self._after_clause(account, inbox_id, after, params))
        sql = f"SELECT * FROM messages WHERE {' AND '.join(where)} ORDER BY seq {order} LIMIT 1"
        deadline = time.monotonic() + timeout_ms / 1000
        with self._notifier.waiting():
            while True:
                seen = self._notifier.version(inbox_id)
                row = self._store.row(sql, params)
                if row is not None:
                    return decode(row)
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

    def _after_clause(self, account: Account, inbox_id: str, after: str, params: list[Any]) -> str:
        if after.startswith("msg_"):
            seq = self._store.scalar(
                "SELECT seq FROM messages WHERE id = ? AND account_id = ?", [after, account.id]
            )
            if seq is None:
                raise InvalidRequest(f"after: message {after!r} not found", field="after")
            params.append(seq)
            return "seq > ?"
        moment = parse_time(after)
        if moment is None:
            raise InvalidRequest(
                f"after must be an ISO-8601 time or a message id, got {after!r}", field="after"
            )
        params.append(format_time(moment))
        return "created_at > ?"

"""Threads: a message joins a thread of its own inbox only.

Resolution order (the contract's): a known ``In-Reply-To``, then ``References`` right to
left, then the same normalized subject within seven days of the inbox account's clock, else a
new thread. Mail between two sandbox inboxes therefore makes one thread in each.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.errors import NotFound
from mailbot_sandbox.ids import format_time, new_id
from mailbot_sandbox.mail.text import normalize_subject
from mailbot_sandbox.store import Store

SUBJECT_WINDOW = timedelta(days=7)


def decode_thread(row: dict[str, Any]) -> dict[str, Any]:
    row["participants"] = json.loads(row["participants"])
    return row


class Threads:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- inside a write transaction ------------------------------------------------------------
    def resolve(
        self,
        conn: sqlite3.Connection,
        inbox_id: str,
        *,
        in_reply_to: str | None,
        references: list[str],
        subject: str,
        now: datetime,
    ) -> str | None:
        """The id of the thread this message joins in ``inbox_id``, or None for a new one."""
        for header in [in_reply_to, *reversed(references)]:
            if not header:
                continue
            found = conn.execute(
                "SELECT thread_id FROM messages WHERE inbox_id = ? AND message_id_header = ? "
                "ORDER BY seq DESC LIMIT 1",
                [inbox_id, header],
            ).fetchone()
            if found:
                return str(found[0])
        normalized = normalize_subject(subject)
        if not normalized:
            return None
        found = conn.execute(
            "SELECT id FROM threads WHERE inbox_id = ? AND normalized_subject = ? "
            "AND last_message_at >= ? ORDER BY last_message_at DESC LIMIT 1",
            [inbox_id, normalized, format_time(now - SUBJECT_WINDOW)],
        ).fetchone()
        return str(found[0]) if found else None

    def add_message(
        self,
        conn: sqlite3.Connection,
        thread_id: str | None,
        *,
        account_id: str,
        inbox_id: str,
        subject: str,
        participants: list[str],
        created_at: str,
    ) -> str:
        """Create the thread (when ``thread_id`` is None) or count one more message in it."""
        if thread_id is None:
            thread_id = new_id("thr")
            conn.execute(
                "INSERT INTO threads (id, account_id, inbox_id, subject, normalized_subject, "
                "participants, message_count, created_at, last_message_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
                [
                    thread_id,
                    account_id,
                    inbox_id,
                    subject,
                    normalize_subject(subject),
                    json.dumps(sorted(set(participants))),
                    created_at,
                    created_at,
                ],
            )
            return thread_id
        row = conn.execute("SELECT participants FROM threads WHERE id = ?", [thread_id]).fetchone()
        known = set(json.loads(row[0])) if row else set()
        merged = sorted(known | set(participants))
        conn.execute(
            "UPDATE threads SET message_count = message_count + 1, last_message_at = "
            "max(last_message_at, ?), participants = ? WHERE id = ?",
            [created_at, json.dumps(merged), thread_id],
        )
        return thread_id

    # -- reads ---------------------------------------------------------------------------------
    def list_page(
        self, account: Account, inbox_id: str, page: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        total = self._store.scalar(
            "SELECT count(*) FROM threads WHERE inbox_id = ? AND account_id = ?",
            [inbox_id, account.id],
        )
        rows = self._store.rows(
            "SELECT * FROM threads WHERE inbox_id = ? AND account_id = ? "
            "ORDER BY last_message_at DESC, rowid DESC LIMIT ? OFFSET ?",
            [inbox_id, account.id, limit, (page - 1) * limit],
        )
        return self._with_labels([decode_thread(r) for r in rows]), int(total)

    def get(self, account: Account, inbox_id: str, thread_id: str) -> dict[str, Any]:
        row = self._store.row(
            "SELECT * FROM threads WHERE id = ? AND inbox_id = ? AND account_id = ?",
            [thread_id, inbox_id, account.id],
        )
        if row is None:
            raise NotFound(f"thread {thread_id!r} not found in inbox {inbox_id!r}")
        return self._with_labels([decode_thread(row)])[0]

    def _with_labels(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A thread's labels are the union of its messages' labels."""
        if not rows:
            return rows
        marks = ",".join("?" * len(rows))
        found = self._store.rows(
            f"SELECT DISTINCT m.thread_id AS thread_id, j.value AS label FROM messages m, "
            f"json_each(m.labels) j WHERE m.thread_id IN ({marks}) ORDER BY j.value",
            [r["id"] for r in rows],
        )
        labels: dict[str, list[str]] = {}
        for item in found:
            labels.setdefault(item["thread_id"], []).append(item["label"])
        for row in rows:
            row["labels"] = labels.get(row["id"], [])
        return rows

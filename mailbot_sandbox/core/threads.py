"""Threads: a message joins a thread of its own inbox only.

Resolution order (the contract's): a known ``In-Reply-To``, then ``References`` right to
left, then the same normalized subject within seven days of the inbox account's clock, else a
new thread. Mail between two sandbox inboxes therefore makes one thread in each.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.errors import NotFound
from mailbot_sandbox.ids import format_time, new_id
from mailbot_sandbox.mail.text import normalize_subject
from mailbot_sandbox.store import Store, threads
from mailbot_sandbox.store.threads import ThreadRow

SUBJECT_WINDOW = timedelta(days=7)


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
            found = threads.thread_of_header(conn, inbox_id, header)
            if found:
                return found
        normalized = normalize_subject(subject)
        if not normalized:
            return None
        return threads.thread_of_subject(
            conn, inbox_id, normalized, format_time(now - SUBJECT_WINDOW)
        )

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
            threads.insert_thread(
                conn,
                thread_id,
                account_id=account_id,
                inbox_id=inbox_id,
                subject=subject,
                normalized_subject=normalize_subject(subject),
                participants=sorted(set(participants)),
                created_at=created_at,
            )
            return thread_id
        known = set(threads.thread_participants(conn, thread_id))
        threads.count_message(
            conn,
            thread_id,
            created_at=created_at,
            participants=sorted(known | set(participants)),
        )
        return thread_id

    # -- reads ---------------------------------------------------------------------------------
    def list_page(
        self, account: Account, inbox_id: str, page: int, limit: int
    ) -> tuple[list[ThreadRow], int]:
        return threads.thread_page(
            self._store, account.id, inbox_id, limit=limit, offset=(page - 1) * limit
        )

    def get(self, account: Account, inbox_id: str, thread_id: str) -> ThreadRow:
        row = threads.get_thread(self._store, account.id, inbox_id, thread_id)
        if row is None:
            raise NotFound(f"thread {thread_id!r} not found in inbox {inbox_id!r}")
        return row

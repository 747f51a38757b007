"""The ``threads`` table: one row per conversation of one inbox."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, TypedDict

from mailbot_sandbox.store.db import Store


class ThreadRow(TypedDict):
    """A thread with its participants decoded and its labels (those of its messages)."""

    id: str
    account_id: str
    inbox_id: str
    subject: str
    normalized_subject: str
    participants: list[str]
    message_count: int
    created_at: str
    last_message_at: str
    labels: list[str]


# -- inside a write transaction --------------------------------------------------------------
def thread_of_header(conn: sqlite3.Connection, inbox_id: str, message_id_header: str) -> str | None:
    """The thread of the newest message of ``inbox_id`` with this ``Message-ID``, or None."""
    found = conn.execute(
        "SELECT thread_id FROM messages WHERE inbox_id = ? AND message_id_header = ? "
        "ORDER BY seq DESC LIMIT 1",
        [inbox_id, message_id_header],
    ).fetchone()
    return str(found[0]) if found else None


def thread_of_subject(
    conn: sqlite3.Connection, inbox_id: str, normalized_subject: str, since: str
) -> str | None:
    """The thread of ``inbox_id`` with this subject most recently active at or after
    ``since``, or None."""
    found = conn.execute(
        "SELECT id FROM threads WHERE inbox_id = ? AND normalized_subject = ? "
        "AND last_message_at >= ? ORDER BY last_message_at DESC LIMIT 1",
        [inbox_id, normalized_subject, since],
    ).fetchone()
    return str(found[0]) if found else None


def insert_thread(
    conn: sqlite3.Connection,
    thread_id: str,
    *,
    account_id: str,
    inbox_id: str,
    subject: str,
    normalized_subject: str,
    participants: list[str],
    created_at: str,
) -> None:
    """Store a new thread holding one message."""
    conn.execute(
        "INSERT INTO threads (id, account_id, inbox_id, subject, normalized_subject, "
        "participants, message_count, created_at, last_message_at) "
        "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
        [
            thread_id,
            account_id,
            inbox_id,
            subject,
            normalized_subject,
            json.dumps(participants),
            created_at,
            created_at,
        ],
    )


def thread_participants(conn: sqlite3.Connection, thread_id: str) -> list[str]:
    """The participants stored for a thread (none for an unknown one)."""
    row = conn.execute("SELECT participants FROM threads WHERE id = ?", [thread_id]).fetchone()
    return list(json.loads(row[0])) if row else []


def count_message(
    conn: sqlite3.Connection, thread_id: str, *, created_at: str, participants: list[str]
) -> None:
    """Count one more message in a thread, with the thread's new participant list."""
    conn.execute(
        "UPDATE threads SET message_count = message_count + 1, last_message_at = "
        "max(last_message_at, ?), participants = ? WHERE id = ?",
        [created_at, json.dumps(participants), thread_id],
    )


# -- reads -----------------------------------------------------------------------------------
def thread_page(
    store: Store, account_id: str, inbox_id: str, *, limit: int, offset: int
) -> tuple[list[ThreadRow], int]:
    """One page of an inbox's threads, most recently active first, and their total."""
    total = store.scalar(
        "SELECT count(*) FROM threads WHERE inbox_id = ? AND account_id = ?",
        [inbox_id, account_id],
    )
    rows = store.rows(
        "SELECT * FROM threads WHERE inbox_id = ? AND account_id = ? "
        "ORDER BY last_message_at DESC, rowid DESC LIMIT ? OFFSET ?",
        [inbox_id, account_id, limit, offset],
    )
    return _with_labels(store, rows), int(total)


def get_thread(store: Store, account_id: str, inbox_id: str, thread_id: str) -> ThreadRow | None:
    """One thread of an inbox, or None."""
    row = store.row(
        "SELECT * FROM threads WHERE id = ? AND inbox_id = ? AND account_id = ?",
        [thread_id, inbox_id, account_id],
    )
    return _with_labels(store, [row])[0] if row else None


def _with_labels(store: Store, rows: list[dict[str, Any]]) -> list[ThreadRow]:
    """Decode the rows; a thread's labels are the union of its messages' labels."""
    if not rows:
        return []
    marks = ",".join("?" * len(rows))
    found = store.rows(
        f"SELECT DISTINCT m.thread_id AS thread_id, j.value AS label FROM messages m, "
        f"json_each(m.labels) j WHERE m.thread_id IN ({marks}) ORDER BY j.value",
        [r["id"] for r in rows],
    )
    labels: dict[str, list[str]] = {}
    for item in found:
        labels.setdefault(item["thread_id"], []).append(item["label"])
    return [
        ThreadRow(
            id=row["id"],
            account_id=row["account_id"],
            inbox_id=row["inbox_id"],
            subject=row["subject"],
            normalized_subject=row["normalized_subject"],
            participants=json.loads(row["participants"]),
            message_count=row["message_count"],
            created_at=row["created_at"],
            last_message_at=row["last_message_at"],
            labels=labels.get(row["id"], []),
        )
        for row in rows
    ]

"""The ``messages`` table with its ``attachments`` and the ``blobs`` of raw message bytes."""

from __future__ import annotations

import sqlite3
from typing import TypedDict

from mailbot_sandbox.store.db import Store


def insert_blob(conn: sqlite3.Connection, raw: bytes) -> int:
    """Keep message bytes exactly as given (copies of one message share them); their id."""
    return int(conn.execute("INSERT INTO blobs (data) VALUES (?)", [raw]).lastrowid or 0)


def raw_bytes(store: Store, raw_id: int) -> bytes:
    """The bytes of a message as received: the one place they are read back."""
    return bytes(store.scalar("SELECT data FROM blobs WHERE id = ?", [raw_id]))


class ExportedMessage(TypedDict):
    """What an export needs of a message: where it belongs, its sender, time and bytes."""

    seq: int
    id: str
    inbox_id: str
    address: str
    from_address: str
    created_at: str
    raw_id: int


def export_listing(
    store: Store, account_id: str, inbox_id: str | None = None
) -> list[ExportedMessage]:
    """An account's messages (or one inbox's), oldest first, with their inbox's address."""
    where, params = "m.account_id = ?", [account_id]
    if inbox_id is not None:
        where += " AND m.inbox_id = ?"
        params.append(inbox_id)
    return [
        ExportedMessage(
            seq=row["seq"],
            id=row["id"],
            inbox_id=row["inbox_id"],
            address=row["address"],
            from_address=row["from_address"],
            created_at=row["created_at"],
            raw_id=row["raw_id"],
        )
        for row in store.rows(
            "SELECT m.seq, m.id, m.inbox_id, i.address, m.from_address, m.created_at, m.raw_id "
            f"FROM messages m JOIN inboxes i ON i.id = m.inbox_id WHERE {where} ORDER BY m.seq",
            params,
        )
    ]

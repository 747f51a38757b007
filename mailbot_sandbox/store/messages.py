"""The ``messages`` table with its ``attachments`` and the ``blobs`` of raw message bytes."""

from __future__ import annotations

import sqlite3

from mailbot_sandbox.store.db import Store


def insert_blob(conn: sqlite3.Connection, raw: bytes) -> int:
    """Keep message bytes exactly as given (copies of one message share them); their id."""
    return int(conn.execute("INSERT INTO blobs (data) VALUES (?)", [raw]).lastrowid or 0)


def raw_bytes(store: Store, raw_id: int) -> bytes:
    """The bytes of a message as received: the one place they are read back."""
    return bytes(store.scalar("SELECT data FROM blobs WHERE id = ?", [raw_id]))

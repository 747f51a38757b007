"""The ``send_counts`` table: how many messages each inbox sent on each UTC day."""

from __future__ import annotations

import sqlite3


def sends_on(conn: sqlite3.Connection, inbox_id: str, day: str) -> int:
    """How many messages the inbox sent on ``day`` (``YYYY-MM-DD``); read inside the sending
    transaction, so racing senders are counted exactly."""
    found = conn.execute(
        "SELECT count FROM send_counts WHERE inbox_id = ? AND day = ?", [inbox_id, day]
    ).fetchone()
    return int(found[0]) if found else 0


def count_send(conn: sqlite3.Connection, inbox_id: str, day: str) -> None:
    """Count one more message sent by the inbox on ``day``."""
    conn.execute(
        "INSERT INTO send_counts (inbox_id, day, count) VALUES (?, ?, 1) "
        "ON CONFLICT (inbox_id, day) DO UPDATE SET count = count + 1",
        [inbox_id, day],
    )

"""Erasing for the control plane: a whole account, or one inbox (the API only disables)."""

from __future__ import annotations

import sqlite3

from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.errors import NotFound
from mailbot_sandbox.store import Store


def erase_messages(conn: sqlite3.Connection, where: str, params: list[object]) -> int:
    """Delete the messages matching ``where`` (over ``messages``) with their search rows,
    attachments (by cascade) and any raw bytes no other copy or capture still uses."""
    found = conn.execute(f"SELECT seq, raw_id FROM messages WHERE {where}", params).fetchall()
    if not found:
        return 0
    seqs = [row[0] for row in found]
    raw_ids = sorted({row[1] for row in found})
    for chunk in _chunks(seqs):
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM messages_fts WHERE rowid IN ({marks})", chunk)
        conn.execute(f"DELETE FROM messages WHERE seq IN ({marks})", chunk)
    drop_unused_blobs(conn, raw_ids)
    return len(seqs)


def drop_unused_blobs(conn: sqlite3.Connection, raw_ids: list[int]) -> None:
    """Delete these blobs unless a message or a captured mail still points at them."""
    for chunk in _chunks(raw_ids):
        marks = ",".join("?" * len(chunk))
        conn.execute(
            f"DELETE FROM blobs WHERE id IN ({marks}) "
            "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.raw_id = blobs.id) "
            "AND NOT EXISTS (SELECT 1 FROM captured c WHERE c.raw_id = blobs.id)",
            chunk,
        )


def _chunks(items: list[int], size: int = 500) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def erase_inbox(store: Store, account: Account, inbox_id: str) -> dict[str, int]:
    """Remove one inbox and everything in it, freeing its address; counts per kind."""
    with store.write() as db:
        conn = db.conn
        if not conn.execute(
            "SELECT 1 FROM inboxes WHERE id = ? AND account_id = ?", [inbox_id, account.id]
        ).fetchone():
            raise NotFound(f"inbox {inbox_id!r} not found")
        captured = conn.execute(
            "SELECT raw_id FROM captured WHERE inbox_id = ?", [inbox_id]
        ).fetchall()
        conn.execute("DELETE FROM captured WHERE inbox_id = ?", [inbox_id])
        messages = erase_messages(conn, "inbox_id = ?", [inbox_id])
        drop_unused_blobs(conn, [row[0] for row in captured])
        conn.execute("DELETE FROM threads WHERE inbox_id = ?", [inbox_id])
        conn.execute("DELETE FROM send_counts WHERE inbox_id = ?", [inbox_id])
        conn.execute("DELETE FROM inboxes WHERE id = ?", [inbox_id])
    return {"inboxes": 1, "messages": messages}


def reset_account(store: Store, account: Account) -> dict[str, int]:
    """Erase everything one account holds (the account and its clock stay); counts per kind."""
    with store.write() as db:
        conn = db.conn
        inboxes = conn.execute(
            "SELECT count(*) FROM inboxes WHERE account_id = ?", [account.id]
        ).fetchone()[0]
        captured = conn.execute(
            "SELECT raw_id FROM captured WHERE account_id = ?", [account.id]
        ).fetchall()
        conn.execute("DELETE FROM captured WHERE account_id = ?", [account.id])
        messages = erase_messages(conn, "account_id = ?", [account.id])
        drop_unused_blobs(conn, [row[0] for row in captured])
        conn.execute("DELETE FROM threads WHERE account_id = ?", [account.id])
        conn.execute(
            "DELETE FROM send_counts WHERE inbox_id IN "
            "(SELECT id FROM inboxes WHERE account_id = ?)",
            [account.id],
        )
        for table in ("inboxes", "domains", "dns_records"):
            conn.execute(f"DELETE FROM {table} WHERE account_id = ?", [account.id])
    return {"messages": messages, "inboxes": inboxes}

"""Removing data in bulk (erasing an inbox or an account, pruning old mail) and the
whole-store figures the health and metrics routes report."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from mailbot_sandbox.store.db import Store
from mailbot_sandbox.store.engagement import erase_engagement
from mailbot_sandbox.store.webhooks import erase_events


@dataclass(frozen=True)
class PruneCounts:
    """How many messages one pruning removed by age and by count, and how many threads it
    emptied and removed."""

    by_age: int
    by_count: int
    threads: int


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


def erase_inbox(store: Store, account_id: str, inbox_id: str) -> int | None:
    """Remove one inbox of an account and everything in it, freeing its address; how many
    messages went, or None (and nothing changed) when the account has no such inbox."""
    with store.write() as db:
        conn = db.conn
        if not conn.execute(
            "SELECT 1 FROM inboxes WHERE id = ? AND account_id = ?", [inbox_id, account_id]
        ).fetchone():
            return None
        captured = conn.execute(
            "SELECT raw_id FROM captured WHERE inbox_id = ?", [inbox_id]
        ).fetchall()
        conn.execute("DELETE FROM captured WHERE inbox_id = ?", [inbox_id])
        messages = erase_messages(conn, "inbox_id = ?", [inbox_id])
        drop_unused_blobs(conn, [row[0] for row in captured])
        conn.execute("DELETE FROM threads WHERE inbox_id = ?", [inbox_id])
        conn.execute("DELETE FROM send_counts WHERE inbox_id = ?", [inbox_id])
        conn.execute("DELETE FROM faults WHERE inbox_id = ?", [inbox_id])
        conn.execute("DELETE FROM inboxes WHERE id = ?", [inbox_id])
        erase_events(conn, account_id, inbox_id)
        erase_engagement(conn, account_id, inbox_id)
    return messages


def clear_inbox(store: Store, account_id: str, inbox_id: str) -> int | None:
    """Remove every message and thread of one inbox of an account, keeping the inbox, its
    address and its send counts; how many messages went, or None when there is no such inbox."""
    with store.write() as db:
        conn = db.conn
        if not conn.execute(
            "SELECT 1 FROM inboxes WHERE id = ? AND account_id = ?", [inbox_id, account_id]
        ).fetchone():
            return None
        messages = erase_messages(conn, "inbox_id = ?", [inbox_id])
        conn.execute("DELETE FROM threads WHERE inbox_id = ?", [inbox_id])
    return messages


def reset_account(store: Store, account_id: str) -> tuple[int, int]:
    """Erase everything one account holds (the account and its clock stay); returns how many
    messages and inboxes went."""
    with store.write() as db:
        conn = db.conn
        inboxes = conn.execute(
            "SELECT count(*) FROM inboxes WHERE account_id = ?", [account_id]
        ).fetchone()[0]
        captured = conn.execute(
            "SELECT raw_id FROM captured WHERE account_id = ?", [account_id]
        ).fetchall()
        conn.execute("DELETE FROM captured WHERE account_id = ?", [account_id])
        messages = erase_messages(conn, "account_id = ?", [account_id])
        drop_unused_blobs(conn, [row[0] for row in captured])
        conn.execute("DELETE FROM threads WHERE account_id = ?", [account_id])
        conn.execute(
            "DELETE FROM send_counts WHERE inbox_id IN "
            "(SELECT id FROM inboxes WHERE account_id = ?)",
            [account_id],
        )
        for table in ("inboxes", "domains", "dns_records", "faults"):
            conn.execute(f"DELETE FROM {table} WHERE account_id = ?", [account_id])
        erase_events(conn, account_id)
        erase_engagement(conn, account_id)
    return messages, int(inboxes)


def prune(conn: sqlite3.Connection, age_cutoffs: dict[str, str], max_messages: int) -> PruneCounts:
    """Delete, inside the caller's transaction, each account's messages created before its
    cutoff in ``age_cutoffs`` and each inbox's messages beyond its newest ``max_messages``
    (0: no limit), with everything that belongs to them.

    A message old *and* surplus counts once, as old.
    """
    conn.execute("DROP TABLE IF EXISTS temp.retention_victims")
    conn.execute(
        "CREATE TEMP TABLE retention_victims (seq INTEGER PRIMARY KEY, reason TEXT NOT NULL)"
    )
    for account_id, cutoff in age_cutoffs.items():
        conn.execute(
            "INSERT OR IGNORE INTO temp.retention_victims (seq, reason) "
            "SELECT seq, 'age' FROM messages WHERE account_id = ? AND created_at < ?",
            [account_id, cutoff],
        )
        _prune_caught(conn, account_id, cutoff)
    if max_messages:
        conn.execute(
            "INSERT OR IGNORE INTO temp.retention_victims (seq, reason) "
            "SELECT seq, 'count' FROM (SELECT seq, ROW_NUMBER() OVER "
            "(PARTITION BY inbox_id ORDER BY seq DESC) AS position FROM messages) "
            "WHERE position > ?",
            [max_messages],
        )
    by_reason = dict(
        conn.execute(
            "SELECT reason, count(*) FROM temp.retention_victims GROUP BY reason"
        ).fetchall()
    )
    if not by_reason:
        conn.execute("DROP TABLE temp.retention_victims")
        return PruneCounts(0, 0, 0)
    threads = _delete_victims(conn)
    return PruneCounts(by_reason.get("age", 0), by_reason.get("count", 0), threads)


def _prune_caught(conn: sqlite3.Connection, account_id: str, cutoff: str) -> None:
    """Delete what the catch-all captured for an account before ``cutoff``: that mail has no
    message row, so pruning messages never reaches it."""
    where = "account_id = ? AND message_id IS NULL AND created_at < ?"
    blobs = conn.execute(f"SELECT raw_id FROM captured WHERE {where}", [account_id, cutoff])
    raw_ids = [row[0] for row in blobs.fetchall()]
    if raw_ids:
        conn.execute(f"DELETE FROM captured WHERE {where}", [account_id, cutoff])
        drop_unused_blobs(conn, raw_ids)


def _delete_victims(conn: sqlite3.Connection) -> int:
    """Delete the messages listed in ``temp.retention_victims`` and what hangs off them.

    :func:`erase_messages` does the erasing (search rows, attachments, unused bytes); what is
    left to do here is what only a partial removal has: captures of pruned messages and the
    counters of the threads that keep some of their messages. Returns how many (emptied)
    threads were removed.
    """
    victims = "SELECT seq FROM temp.retention_victims"
    conn.execute("DROP TABLE IF EXISTS temp.retention_threads")
    conn.execute(
        "CREATE TEMP TABLE retention_threads AS "
        f"SELECT DISTINCT thread_id AS id FROM messages WHERE seq IN ({victims})"
    )
    captured = conn.execute(
        f"SELECT raw_id FROM captured WHERE message_id IN "
        f"(SELECT id FROM messages WHERE seq IN ({victims}))"
    ).fetchall()
    conn.execute(
        f"DELETE FROM captured WHERE message_id IN (SELECT id FROM messages WHERE seq IN "
        f"({victims}))"
    )
    erase_messages(conn, f"seq IN ({victims})", [])
    drop_unused_blobs(conn, [row[0] for row in captured])
    conn.execute(
        "UPDATE threads SET "
        "message_count = (SELECT count(*) FROM messages m WHERE m.thread_id = threads.id), "
        "last_message_at = coalesce((SELECT max(created_at) FROM messages m "
        "WHERE m.thread_id = threads.id), last_message_at) "
        "WHERE id IN (SELECT id FROM temp.retention_threads)"
    )
    threads = conn.execute(
        "DELETE FROM threads WHERE id IN (SELECT id FROM temp.retention_threads) "
        "AND message_count = 0"
    ).rowcount
    for table in ("retention_victims", "retention_threads"):
        conn.execute(f"DROP TABLE temp.{table}")
    return int(threads)


# -- figures ---------------------------------------------------------------------------------
def probe(store: Store) -> None:
    """Read the schema's migration list: raises :class:`sqlite3.Error` when the database
    does not answer."""
    store.scalar("SELECT count(*) FROM migrations")


def message_total(store: Store) -> int:
    """Messages held in the store, of every account."""
    return int(store.scalar("SELECT count(*) FROM messages"))


def inbox_total(store: Store) -> int:
    """Inboxes of every account."""
    return int(store.scalar("SELECT count(*) FROM inboxes"))

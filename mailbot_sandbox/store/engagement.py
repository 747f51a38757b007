"""The ``tracking`` and ``engagement`` tables: a tracked message's tokens, and what happened
to sent mail (delivered, bounced, complained, opened, clicked) in typed columns."""

from __future__ import annotations

import sqlite3
from typing import Any, TypedDict

from mailbot_sandbox.store.db import Store


class TrackingRow(TypedDict):
    """One token of a tracked message: its open pixel (``url`` None) or one of its links."""

    token: str
    account_id: str
    inbox_id: str
    message_id: str
    kind: str  # open | click
    url: str | None


class EngagementRow(TypedDict):
    """One engagement event; ``type`` is the short name (``opened``)."""

    seq: int
    event_id: str
    account_id: str
    inbox_id: str
    message_id: str
    thread_id: str | None
    type: str
    url: str | None
    created_at: str


_TRACKING = ("token", "account_id", "inbox_id", "message_id", "kind", "url")
_ENGAGEMENT = (
    "event_id",
    "account_id",
    "inbox_id",
    "message_id",
    "thread_id",
    "type",
    "url",
    "created_at",
)
_SELECT = f"SELECT seq, {', '.join(_ENGAGEMENT)} FROM engagement"


def insert_tokens(conn: sqlite3.Connection, tokens: list[TrackingRow]) -> None:
    """Keep a message's tokens (inside the transaction that stores the message)."""
    conn.executemany(
        f"INSERT INTO tracking ({', '.join(_TRACKING)}) VALUES ({', '.join('?' * len(_TRACKING))})",
        [[token[name] for name in _TRACKING] for token in tokens],  # type: ignore[literal-required]
    )


def find_token(store: Store, token: str) -> TrackingRow | None:
    row = store.row(f"SELECT {', '.join(_TRACKING)} FROM tracking WHERE token = ?", (token,))
    return None if row is None else TrackingRow(**row)  # type: ignore[typeddict-item]


def insert_engagement(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
    """Record one engagement row beside its event (inside the caller's transaction)."""
    conn.execute(
        f"INSERT INTO engagement ({', '.join(_ENGAGEMENT)}) "
        f"VALUES ({', '.join('?' * len(_ENGAGEMENT))})",
        [row[name] for name in _ENGAGEMENT],
    )


def _where(
    account_id: str, inbox_id: str | None, type: str | None, since: str | None
) -> tuple[str, list[Any]]:
    where, params = ["account_id = ?"], [account_id]
    for column, value, op in (("inbox_id", inbox_id, "="), ("type", type, "=")):
        if value is not None:
            where.append(f"{column} {op} ?")
            params.append(value)
    if since is not None:
        where.append("created_at >= ?")
        params.append(since)
    return " AND ".join(where), params


def engagement_page(
    store: Store,
    account_id: str,
    *,
    limit: int,
    offset: int,
    inbox_id: str | None = None,
    type: str | None = None,
) -> tuple[list[EngagementRow], int]:
    """An account's engagement events, newest first; and how many match."""
    condition, params = _where(account_id, inbox_id, type, None)
    rows = store.rows(
        f"{_SELECT} WHERE {condition} ORDER BY seq DESC LIMIT ? OFFSET ?", [*params, limit, offset]
    )
    total = store.scalar(f"SELECT count(*) FROM engagement WHERE {condition}", params)
    return [EngagementRow(**r) for r in rows], int(total or 0)  # type: ignore[typeddict-item]


def message_engagement(store: Store, message_id: str) -> list[EngagementRow]:
    """One message's engagement events, oldest first."""
    rows = store.rows(f"{_SELECT} WHERE message_id = ? ORDER BY seq", (message_id,))
    return [EngagementRow(**r) for r in rows]  # type: ignore[typeddict-item]


def counts_since(
    conn_or_store: Store | sqlite3.Connection,
    account_id: str,
    since: str,
    inbox_id: str | None = None,
) -> dict[str, dict[str, int]]:
    """Per inbox: how many messages were sent since ``since``, and how many distinct
    messages were delivered, bounced, complained, opened or clicked since then."""
    condition, params = _where(account_id, inbox_id, None, since)
    sent_sql = (
        f"SELECT inbox_id, 'sent' AS type, count(*) AS n FROM messages WHERE {condition} "
        "AND direction = 'outbound' GROUP BY inbox_id"
    )
    events_sql = (
        "SELECT inbox_id, type, count(DISTINCT message_id) AS n FROM engagement "
        f"WHERE {condition} GROUP BY inbox_id, type"
    )
    sql = f"{sent_sql} UNION ALL {events_sql}"
    if isinstance(conn_or_store, Store):
        rows = conn_or_store.rows(sql, [*params, *params])
    else:
        rows = [
            {"inbox_id": r[0], "type": r[1], "n": r[2]}
            for r in conn_or_store.execute(sql, [*params, *params]).fetchall()
        ]
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["inbox_id"], {})[row["type"]] = int(row["n"])
    return counts


def erase_engagement(
    conn: sqlite3.Connection, account_id: str, inbox_id: str | None = None
) -> None:
    """Remove an account's (or one inbox's) tokens and engagement rows: part of erasing."""
    scope, params = "account_id = ?", [account_id]
    if inbox_id is not None:
        scope, params = "account_id = ? AND inbox_id = ?", [account_id, inbox_id]
    conn.execute(f"DELETE FROM tracking WHERE {scope}", params)
    conn.execute(f"DELETE FROM engagement WHERE {scope}", params)

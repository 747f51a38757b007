"""The ``events`` table: what happened to an account's inboxes, messages and domains."""

from __future__ import annotations

import sqlite3
from typing import Any, TypedDict

from mailbot_sandbox.store.db import Store


class EventRow(TypedDict):
    """A recorded event; ``data`` is the object's JSON text, serialized once when recorded."""

    id: str
    account_id: str
    inbox_id: str | None
    type: str
    message_id: str | None
    thread_id: str | None
    data: str
    created_at: str


_COLUMNS = ("id", "account_id", "inbox_id", "type", "message_id", "thread_id", "data", "created_at")
_INSERT = f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM events"


def _event(row: dict[str, Any]) -> EventRow:
    return EventRow(
        id=row["id"],
        account_id=row["account_id"],
        inbox_id=row["inbox_id"],
        type=row["type"],
        message_id=row["message_id"],
        thread_id=row["thread_id"],
        data=row["data"],
        created_at=row["created_at"],
    )


def insert_event(conn: sqlite3.Connection, event: EventRow) -> None:
    """Record one event (inside the caller's write transaction); its webhook deliveries are
    queued by the schema's trigger in the same statement."""
    conn.execute(_INSERT, [event[name] for name in _COLUMNS])  # type: ignore[literal-required]


def get_event(store: Store, account_id: str, event_id: str) -> EventRow | None:
    row = store.row(f"{_SELECT} WHERE id = ? AND account_id = ?", (event_id, account_id))
    return None if row is None else _event(row)


def event_page(
    store: Store,
    account_id: str,
    *,
    limit: int,
    offset: int,
    inbox_id: str | None = None,
    type: str | None = None,
) -> tuple[list[EventRow], int]:
    """An account's events, newest first, optionally of one inbox and one type; and how
    many match."""
    where, params = ["account_id = ?"], [account_id]
    if inbox_id is not None:
        where.append("inbox_id = ?")
        params.append(inbox_id)
    if type is not None:
        where.append("type = ?")
        params.append(type)
    condition = " AND ".join(where)
    rows = store.rows(
        f"{_SELECT} WHERE {condition} ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset]
    )
    total = store.scalar(f"SELECT count(*) FROM events WHERE {condition}", params)
    return [_event(r) for r in rows], int(total or 0)

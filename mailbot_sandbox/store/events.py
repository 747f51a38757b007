"""The ``events`` table: what happened to an account's inboxes, messages and domains."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
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
# The columns, in order, for a query that joins events as ``e`` (see :func:`event_of`).
EVENT_COLUMNS = ", ".join(f"e.{name}" for name in _COLUMNS)


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


def event_of(values: Sequence[Any]) -> EventRow:
    """The event whose :data:`EVENT_COLUMNS` a joined query returned, in that order."""
    return _event(dict(zip(_COLUMNS, values, strict=True)))


def insert_event(conn: sqlite3.Connection, event: EventRow) -> None:
    """Record one event (inside the caller's write transaction); the webhook dispatcher
    queues its deliveries after the commit (:func:`~mailbot_sandbox.store.webhooks.fan_out`)."""
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


# -- positions, for live streams ---------------------------------------------------------------
# An event's position is its rowid (``position``, AUTOINCREMENT): writes are serialized, so
# positions grow in commit order, which ids (time, then random) do not promise within one
# millisecond or across processes, and one is never used again after its event is erased.


def events_after(
    store: Store, position: int, *, limit: int, account_id: str | None = None
) -> list[tuple[int, EventRow]]:
    """Events recorded after ``position`` (of one account, or of all), oldest first, each
    with its own position."""
    where = "rowid > ?"
    params: list[Any] = [position]
    if account_id is not None:
        where += " AND account_id = ?"
        params.append(account_id)
    # From the reader connection: committed events only, and no wait behind a writer.
    rows = store.committed_rows(
        f"SELECT rowid AS position, {', '.join(_COLUMNS)} FROM events WHERE {where} "
        "ORDER BY rowid LIMIT ?",
        [*params, limit],
    )
    return [(int(row["position"]), _event(row)) for row in rows]


def last_position(store: Store) -> int:
    """The position of the newest event; 0 when there is none."""
    return int(store.scalar("SELECT coalesce(max(rowid), 0) FROM events") or 0)


def position_after(store: Store, account_id: str, event_id: str) -> int:
    """The position from which the account's events after ``event_id`` follow: that event's
    own when it is still stored, else just before the account's first event with a later id
    (ids sort by time), else the newest position."""
    found = store.scalar(
        "SELECT rowid FROM events WHERE id = ? AND account_id = ?", (event_id, account_id)
    )
    if found is not None:
        return int(found)
    later = store.scalar(
        "SELECT min(rowid) FROM events WHERE account_id = ? AND id > ?", (account_id, event_id)
    )
    return int(later) - 1 if later is not None else last_position(store)

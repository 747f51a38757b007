"""The ``webhooks`` table, the queue of their deliveries and the log of every attempt.

Times a query compares (``next_attempt_at``, ``claimed_until``) are Unix seconds; the
times shown to users are ISO-8601 text.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypedDict

from mailbot_sandbox.ids import new_id
from mailbot_sandbox.store.db import Store
from mailbot_sandbox.store.events import EVENT_COLUMNS, EventRow, event_of


class WebhookRow(TypedDict):
    """A stored webhook, its event names decoded."""

    id: str
    account_id: str
    url: str
    events: list[str]
    inbox_id: str | None
    secret: str
    active: bool
    created_at: str


class DeliveryRow(TypedDict):
    """One event on its way to one webhook."""

    id: str
    webhook_id: str
    event_id: str
    url: str
    status: str
    attempts: int
    next_attempt_at: float | None
    created_at: str


class Claimed(TypedDict):
    """A delivery taken by a dispatcher, with what it needs to make the attempt."""

    id: str
    webhook_id: str
    url: str
    attempts: int
    secret: str
    event: EventRow


class AttemptRow(TypedDict):
    """One try at a delivery, as logged."""

    delivery_id: str
    attempt: int
    status_code: int | None
    latency_ms: float
    error: str | None
    next_attempt_at: str | None
    created_at: str


_WEBHOOK = "id, account_id, url, events, inbox_id, secret, active, created_at"
_DELIVERY = "id, webhook_id, event_id, url, status, attempts, next_attempt_at, created_at"
_ATTEMPT = "delivery_id, attempt, status_code, latency_ms, error, next_attempt_at, created_at"


def _webhook(row: dict[str, Any]) -> WebhookRow:
    return WebhookRow(
        id=row["id"],
        account_id=row["account_id"],
        url=row["url"],
        events=[name for name in row["events"].split(",") if name],
        inbox_id=row["inbox_id"],
        secret=row["secret"],
        active=bool(row["active"]),
        created_at=row["created_at"],
    )


def insert_webhook(conn: sqlite3.Connection, row: WebhookRow) -> None:
    conn.execute(
        f"INSERT INTO webhooks ({_WEBHOOK}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row["id"],
            row["account_id"],
            row["url"],
            "," + ",".join(row["events"]) + ",",
            row["inbox_id"],
            row["secret"],
            int(row["active"]),
            row["created_at"],
        ),
    )


def get_webhook(store: Store, account_id: str, webhook_id: str) -> WebhookRow | None:
    row = store.row(
        f"SELECT {_WEBHOOK} FROM webhooks WHERE id = ? AND account_id = ?",
        (webhook_id, account_id),
    )
    return None if row is None else _webhook(row)


def account_webhooks(store: Store, account_id: str) -> list[WebhookRow]:
    rows = store.rows(
        f"SELECT {_WEBHOOK} FROM webhooks WHERE account_id = ? ORDER BY created_at, id",
        (account_id,),
    )
    return [_webhook(r) for r in rows]


def subscribers(store: Store, account_id: str, inbox_id: str | None, type: str) -> list[WebhookRow]:
    """The active webhooks an event of this inbox and type goes to (as a fan-out picks them)."""
    rows = store.rows(
        f"SELECT {_WEBHOOK} FROM webhooks WHERE account_id = ? AND active = 1"
        " AND (inbox_id IS NULL OR inbox_id = ?) AND instr(events, ?) > 0",
        (account_id, inbox_id, f",{type},"),
    )
    return [_webhook(r) for r in rows]


def delete_webhook(conn: sqlite3.Connection, webhook_id: str) -> None:
    """Drop a webhook and whatever it still had pending (its log stays readable no more)."""
    conn.execute(
        "DELETE FROM webhook_attempts WHERE delivery_id IN"
        " (SELECT id FROM webhook_deliveries WHERE webhook_id = ?)",
        (webhook_id,),
    )
    conn.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", (webhook_id,))
    conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))


def queue_delivery(
    conn: sqlite3.Connection,
    delivery_id: str,
    *,
    webhook_id: str,
    event_id: str,
    url: str,
    due: float,
    created_at: str,
) -> None:
    """Queue one event for one webhook (at ``url``), due at ``due`` (Unix seconds)."""
    conn.execute(
        f"INSERT INTO webhook_deliveries ({_DELIVERY}) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
        (delivery_id, webhook_id, event_id, url, due, created_at),
    )


def has_webhooks(conn: sqlite3.Connection, account_id: str) -> bool:
    """Whether the account has an active webhook (its events are worth a dispatcher's look)."""
    return (
        conn.execute(
            "SELECT 1 FROM webhooks WHERE account_id = ? AND active = 1 LIMIT 1", (account_id,)
        ).fetchone()
        is not None
    )


class FanOut(NamedTuple):
    """What one fan-out did: the deliveries it held, the position in the event log it
    reached, and whether more events wait after it."""

    held: list[Claimed]
    position: int
    more: bool


def fan_out(
    conn: sqlite3.Connection,
    now: float,
    hold: float,
    *,
    events: int,
    take: Callable[[str], bool],
) -> FanOut:
    """Queue a delivery for each active webhook subscribed to each event recorded since the
    last fan-out (at most ``events`` events), inside the caller's write transaction, and move
    the fan-out position past them. The deliveries whose URL ``take`` accepts are claimed for
    ``hold`` seconds and returned; the others wait, due now, for :func:`claim_due`.

    Positions grow in commit order (writes are serialized) and are never reused, so each
    event is fanned out once, after it committed."""
    start = int(conn.execute("SELECT position FROM webhook_fan_out WHERE id = 1").fetchone()[0])
    end = conn.execute(
        "SELECT max(rowid) FROM (SELECT rowid FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?)",
        (start, events),
    ).fetchone()[0]
    if end is None:
        return FanOut([], start, False)
    rows = conn.execute(
        f"SELECT w.id, w.url, w.secret, {EVENT_COLUMNS}"
        " FROM events AS e JOIN webhooks AS w ON w.account_id = e.account_id"
        " WHERE e.rowid > ? AND e.rowid <= ? AND w.active = 1"
        " AND (w.inbox_id IS NULL OR w.inbox_id = e.inbox_id)"
        " AND instr(w.events, ',' || e.type || ',') > 0"
        " ORDER BY e.rowid, w.created_at, w.id",
        (start, end),
    ).fetchall()
    held: list[Claimed] = []
    queued = []
    for row in rows:
        event = event_of(row[3:])
        delivery_id = new_id("dlv")
        claimed_until = None
        if take(row[1]):
            claimed_until = now + hold
            held.append(
                Claimed(
                    id=delivery_id,
                    webhook_id=row[0],
                    url=row[1],
                    attempts=0,
                    secret=row[2],
                    event=event,
                )
            )
        queued.append(
            (delivery_id, row[0], event["id"], row[1], now, claimed_until, event["created_at"])
        )
    conn.executemany(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, url, status, attempts,"
        " next_attempt_at, claimed_until, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
        queued,
    )
    conn.execute("UPDATE webhook_fan_out SET position = ? WHERE id = 1", (end,))
    more = conn.execute("SELECT 1 FROM events WHERE rowid > ? LIMIT 1", (end,)).fetchone()
    return FanOut(held, int(end), more is not None)


def claim_due(
    conn: sqlite3.Connection,
    now: float,
    hold: float,
    limit: int,
    *,
    per_url: int,
    skip_urls: Sequence[str] = (),
) -> list[Claimed]:
    """Take up to ``limit`` pending deliveries due by ``now`` that nobody holds, for ``hold``
    seconds, the earliest first: at most ``per_url`` to one URL and none to ``skip_urls``.
    Inside a write transaction, so two dispatchers never take the same one."""
    skip = f" AND url NOT IN ({', '.join('?' * len(skip_urls))})" if skip_urls else ""
    cursor = conn.execute(
        "UPDATE webhook_deliveries SET claimed_until = ? WHERE id IN ("
        " SELECT id FROM (SELECT id, next_attempt_at,"
        "  row_number() OVER (PARTITION BY url ORDER BY next_attempt_at) AS place"
        "  FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?"
        f"  AND (claimed_until IS NULL OR claimed_until < ?){skip})"
        " WHERE place <= ? ORDER BY next_attempt_at LIMIT ?)"
        " RETURNING id",
        (now + hold, now, now, *skip_urls, per_url, limit),
    )
    ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    cursor = conn.execute(
        f"SELECT d.id, d.webhook_id, d.url, d.attempts, w.secret, {EVENT_COLUMNS}"
        " FROM webhook_deliveries AS d JOIN webhooks AS w ON w.id = d.webhook_id"
        " JOIN events AS e ON e.id = d.event_id"
        f" WHERE d.id IN ({', '.join('?' * len(ids))}) ORDER BY d.next_attempt_at",
        ids,
    )
    return [
        Claimed(
            id=row[0],
            webhook_id=row[1],
            url=row[2],
            attempts=row[3],
            secret=row[4],
            event=event_of(row[5:]),
        )
        for row in cursor.fetchall()
    ]


class Recorded(NamedTuple):
    """One attempt as logged, and where it leaves its delivery: ``succeeded``, ``failed``
    (no tries left) or still ``pending`` until ``next_due``."""

    attempt: AttemptRow
    status: str
    next_due: float | None


def record_attempts(conn: sqlite3.Connection, recorded: Sequence[Recorded]) -> None:
    """Log attempts and move each delivery on, in two statements however many there are."""
    conn.executemany(
        f"INSERT INTO webhook_attempts ({_ATTEMPT}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            [r.attempt[name] for name in AttemptRow.__annotations__]  # type: ignore[literal-required]
            for r in recorded
        ],
    )
    conn.executemany(
        "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?,"
        " claimed_until = NULL WHERE id = ?",
        [(r.status, r.attempt["attempt"], r.next_due, r.attempt["delivery_id"]) for r in recorded],
    )


def next_due(store: Store) -> float | None:
    """When the earliest pending delivery nobody holds is due (Unix seconds), or None: a
    claimed one is in flight, not "due". Walks the due index from its start, past the held
    ones only."""
    value = store.scalar(
        "SELECT next_attempt_at FROM webhook_deliveries"
        " WHERE status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?)"
        " ORDER BY next_attempt_at LIMIT 1",
        (time.time(),),
    )
    return None if value is None else float(value)


def delivery_page(
    store: Store, webhook_id: str, *, limit: int, offset: int
) -> tuple[list[DeliveryRow], dict[str, list[AttemptRow]], int]:
    """A webhook's deliveries, newest first, each with its attempts (oldest first)."""
    rows = store.rows(
        f"SELECT {_DELIVERY} FROM webhook_deliveries WHERE webhook_id = ?"
        " ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
        (webhook_id, limit, offset),
    )
    total = store.scalar(
        "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ?", (webhook_id,)
    )
    attempts: dict[str, list[AttemptRow]] = {r["id"]: [] for r in rows}
    if rows:
        found = store.rows(
            f"SELECT {_ATTEMPT} FROM webhook_attempts"
            f" WHERE delivery_id IN ({', '.join('?' * len(rows))}) ORDER BY attempt",
            [r["id"] for r in rows],
        )
        for attempt in found:
            attempts[attempt["delivery_id"]].append(AttemptRow(**attempt))  # type: ignore[typeddict-item]
    return [DeliveryRow(**r) for r in rows], attempts, int(total or 0)  # type: ignore[typeddict-item]


def release_claims(conn: sqlite3.Connection) -> None:
    """Free every claim: a dispatcher starting up holds nothing yet, so claims left by one
    that stopped mid-attempt are stale, and those deliveries are due again."""
    conn.execute(
        "UPDATE webhook_deliveries SET claimed_until = NULL"
        " WHERE status = 'pending' AND claimed_until IS NOT NULL"
    )


def erase_events(conn: sqlite3.Connection, account_id: str, inbox_id: str | None = None) -> None:
    """Remove an account's (or one of its inboxes') events and webhooks with their queued
    deliveries and attempt logs: part of erasing that inbox or resetting that account."""
    scope, params = "account_id = ?", [account_id]
    if inbox_id is not None:
        scope, params = "account_id = ? AND inbox_id = ?", [account_id, inbox_id]
    doomed = (
        f"event_id IN (SELECT id FROM events WHERE {scope})"
        f" OR webhook_id IN (SELECT id FROM webhooks WHERE {scope})"
    )
    conn.execute(
        "DELETE FROM webhook_attempts WHERE delivery_id IN"
        f" (SELECT id FROM webhook_deliveries WHERE {doomed})",
        params * 2,
    )
    conn.execute(f"DELETE FROM webhook_deliveries WHERE {doomed}", params * 2)
    conn.execute(f"DELETE FROM events WHERE {scope}", params)
    conn.execute(f"DELETE FROM webhooks WHERE {scope}", params)

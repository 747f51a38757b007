"""The ``inboxes`` table, and the per-inbox counts shown beside it."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from mailbot_sandbox.store.db import Store


class InboxRow(TypedDict):
    """A stored inbox, its permissions and labels decoded."""

    id: str
    account_id: str
    address: str
    username: str
    display_name: str | None
    domain: str
    status: str
    permissions: list[str]
    daily_send_limit: int
    labels: list[str]
    created_at: str
    updated_at: str


class InboxName(TypedDict):
    """An inbox's id and address."""

    id: str
    address: str


class InboxCounts(TypedDict):
    """What an inbox holds and has sent today."""

    sends_today: int
    message_count: int
    thread_count: int


# The columns ``update_inbox`` may change, each with how it is stored.
_JSON_COLUMNS = frozenset({"permissions", "labels"})
_UPDATABLE = frozenset(
    {"display_name", "daily_send_limit", "permissions", "status", "labels", "updated_at"}
)


def _inbox(row: dict[str, Any]) -> InboxRow:
    return InboxRow(
        id=row["id"],
        account_id=row["account_id"],
        address=row["address"],
        username=row["username"],
        display_name=row["display_name"],
        domain=row["domain"],
        status=row["status"],
        permissions=json.loads(row["permissions"]),
        daily_send_limit=row["daily_send_limit"],
        labels=json.loads(row["labels"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def get_inbox(store: Store, account_id: str, inbox_id: str) -> InboxRow | None:
    """One inbox of an account, or None."""
    row = store.row("SELECT * FROM inboxes WHERE id = ? AND account_id = ?", [inbox_id, account_id])
    return _inbox(row) if row else None


def owner_of(store: Store, inbox_id: str) -> str | None:
    """The account id of an inbox of any account, or None when there is no such inbox."""
    row = store.row("SELECT account_id FROM inboxes WHERE id = ?", [inbox_id])
    return row["account_id"] if row else None


def inboxes_at(store: Store, address: str) -> list[InboxRow]:
    """The inboxes (of any account, at most 50) at a lower-cased address, from committed data
    only: routing mail must not wait for a writer."""
    rows = store.committed_rows("SELECT * FROM inboxes WHERE address = ? LIMIT 50", [address])
    return [_inbox(row) for row in rows]


def inbox_by_id_or_address(
    store: Store, account_id: str, inbox_id: str, address: str
) -> InboxName | None:
    """The inbox of an account with this id or this (lower-cased) address, or None."""
    row = store.row(
        "SELECT id, address FROM inboxes WHERE account_id = ? AND (id = ? OR address = ?)",
        [account_id, inbox_id, address],
    )
    return InboxName(id=row["id"], address=row["address"]) if row else None


def inbox_page(
    store: Store,
    account_id: str,
    *,
    limit: int,
    offset: int,
    status: str | None = None,
    domain: str | None = None,
) -> tuple[list[InboxRow], int]:
    """One page of an account's inboxes, newest first, and their total."""
    return inbox_listing(
        store, [account_id], limit=limit, offset=offset, status=status, domain=domain
    )


def inbox_listing(
    store: Store,
    account_ids: list[str] | None,
    *,
    limit: int,
    offset: int,
    status: str | None = None,
    domain: str | None = None,
) -> tuple[list[InboxRow], int]:
    """One page of the inboxes of these accounts (every account when None), grouped by
    account and newest first within one, and their total."""
    where, params = ["1 = 1"], []
    if account_ids is not None:
        where.append(f"account_id IN ({','.join('?' * len(account_ids)) or 'NULL'})")
        params.extend(account_ids)
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if domain is not None:
        where.append("domain = ?")
        params.append(domain)
    clause = " AND ".join(where)
    total = store.scalar(f"SELECT count(*) FROM inboxes WHERE {clause}", params)
    rows = store.rows(
        f"SELECT * FROM inboxes WHERE {clause} "
        "ORDER BY account_id, created_at DESC, rowid DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [_inbox(row) for row in rows], int(total)


def domains_in_use(store: Store, account_ids: list[str] | None) -> list[str]:
    """The domains the inboxes of these accounts (every account when None) live on."""
    if account_ids is None:
        rows = store.rows("SELECT DISTINCT domain FROM inboxes ORDER BY domain")
    else:
        marks = ",".join("?" * len(account_ids)) or "NULL"
        rows = store.rows(
            f"SELECT DISTINCT domain FROM inboxes WHERE account_id IN ({marks}) ORDER BY domain",
            account_ids,
        )
    return [row["domain"] for row in rows]


def daily_sends(store: Store, inbox_ids: list[str], first_day: str) -> dict[str, dict[str, int]]:
    """For each inbox id: its sends per UTC day (``YYYY-MM-DD``) from ``first_day`` on."""
    found: dict[str, dict[str, int]] = {inbox_id: {} for inbox_id in inbox_ids}
    if not inbox_ids:
        return found
    marks = ",".join("?" * len(inbox_ids))
    for row in store.rows(
        f"SELECT inbox_id, day, count FROM send_counts WHERE inbox_id IN ({marks}) AND day >= ?",
        [*inbox_ids, first_day],
    ):
        found[row["inbox_id"]][row["day"]] = row["count"]
    return found


class OutboundOutcomes(TypedDict):
    """How an inbox's sent mail ended: all of it, and how much bounced or drew a complaint."""

    outbound: int
    bounced: int
    complained: int


def outbound_outcomes(store: Store, inbox_ids: list[str]) -> dict[str, OutboundOutcomes]:
    """For each inbox id: its outbound messages, and how many of them bounced or complained."""
    found = {
        inbox_id: OutboundOutcomes(outbound=0, bounced=0, complained=0) for inbox_id in inbox_ids
    }
    if not inbox_ids:
        return found
    marks = ",".join("?" * len(inbox_ids))
    for row in store.rows(
        "SELECT inbox_id, count(*) AS outbound, "
        "sum(status = 'bounced') AS bounced, sum(status = 'complained') AS complained "
        f"FROM messages WHERE inbox_id IN ({marks}) AND direction = 'outbound' "
        "GROUP BY inbox_id",
        inbox_ids,
    ):
        found[row["inbox_id"]] = OutboundOutcomes(
            outbound=row["outbound"], bounced=row["bounced"] or 0, complained=row["complained"] or 0
        )
    return found


def inbox_counts(store: Store, inbox_ids: list[str], day: str) -> dict[str, InboxCounts]:
    """For each inbox id: its sends on ``day`` (``YYYY-MM-DD``), messages and threads."""
    if not inbox_ids:
        return {}
    marks = ",".join("?" * len(inbox_ids))
    sends = {
        r["inbox_id"]: r["count"]
        for r in store.rows(
            f"SELECT inbox_id, count FROM send_counts WHERE day = ? AND inbox_id IN ({marks})",
            [day, *inbox_ids],
        )
    }
    found: dict[str, dict[str, int]] = {}
    for table in ("messages", "threads"):
        found[table] = {
            r["inbox_id"]: r["n"]
            for r in store.rows(
                f"SELECT inbox_id, count(*) AS n FROM {table} WHERE inbox_id IN ({marks}) "
                "GROUP BY inbox_id",
                inbox_ids,
            )
        }
    return {
        inbox_id: InboxCounts(
            sends_today=sends.get(inbox_id, 0),
            message_count=found["messages"].get(inbox_id, 0),
            thread_count=found["threads"].get(inbox_id, 0),
        )
        for inbox_id in inbox_ids
    }


class InboxUsage(TypedDict):
    """An inbox's sending on one day, beside its limit, and the mail it holds."""

    inbox_id: str
    address: str
    daily_send_limit: int
    sends_today: int
    message_count: int


def account_usage(store: Store, account_id: str, day: str) -> list[InboxUsage]:
    """Every inbox of an account, newest first, with its sends on ``day`` and its messages."""
    rows = store.rows(
        "SELECT i.id AS inbox_id, i.address, i.daily_send_limit, "
        "coalesce(s.count, 0) AS sends_today, "
        "(SELECT count(*) FROM messages m WHERE m.inbox_id = i.id) AS message_count "
        "FROM inboxes i LEFT JOIN send_counts s ON s.inbox_id = i.id AND s.day = ? "
        "WHERE i.account_id = ? ORDER BY i.created_at DESC, i.rowid DESC",
        [day, account_id],
    )
    return [InboxUsage(**row) for row in rows]  # type: ignore[typeddict-item]


def count_active_on_domain(store: Store, account_id: str, domain: str) -> int:
    """How many active inboxes of an account have addresses on ``domain``."""
    return int(
        store.scalar(
            "SELECT count(*) FROM inboxes WHERE account_id = ? AND domain = ? "
            "AND status = 'active'",
            [account_id, domain],
        )
    )


def insert_inbox(store: Store, row: InboxRow) -> bool:
    """Store a new inbox unless its account already has its address; False when it has."""
    with store.write() as db:
        if db.execute(
            "SELECT 1 FROM inboxes WHERE account_id = ? AND address = ?",
            [row["account_id"], row["address"]],
        ).fetchone():
            return False
        db.execute(
            "INSERT INTO inboxes (id, account_id, address, username, display_name, domain, "
            "status, permissions, daily_send_limit, labels, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row["id"],
                row["account_id"],
                row["address"],
                row["username"],
                row["display_name"],
                row["domain"],
                row["status"],
                json.dumps(row["permissions"]),
                row["daily_send_limit"],
                json.dumps(row["labels"]),
                row["created_at"],
                row["updated_at"],
            ],
        )
    return True


def update_inbox(store: Store, inbox_id: str, fields: dict[str, Any]) -> None:
    """Change some columns of an inbox (names from a fixed set; lists are encoded here)."""
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"not an inbox column one may change: {sorted(unknown)}")
    names = sorted(fields)
    values = [json.dumps(fields[n]) if n in _JSON_COLUMNS else fields[n] for n in names]
    assignments = ", ".join(f"{name} = ?" for name in names)
    with store.write() as db:
        db.execute(f"UPDATE inboxes SET {assignments} WHERE id = ?", [*values, inbox_id])


class InboxWithCounts(InboxRow, InboxCounts):
    """An inbox as the API shows it: the stored row and its counts."""

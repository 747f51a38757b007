"""The ``domains`` table (custom domains and their DKIM keys) and ``dns_records`` (the
sandbox's own DNS zone, per account)."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from mailbot_sandbox.store.db import Store


class DomainRow(TypedDict):
    """A custom domain; ``record_status`` maps each record purpose to its check result."""

    id: str
    account_id: str
    domain: str
    status: str
    selector: str
    dkim_private_key: str
    dkim_public_key: str
    record_status: dict[str, str]
    created_at: str
    verified_at: str | None


class DnsRecordRow(TypedDict):
    """One record of the sandbox's DNS table (``priority`` only for MX)."""

    type: str
    name: str
    value: str
    priority: int | None


def _domain(row: dict[str, Any]) -> DomainRow:
    return DomainRow(
        id=row["id"],
        account_id=row["account_id"],
        domain=row["domain"],
        status=row["status"],
        selector=row["selector"],
        dkim_private_key=row["dkim_private_key"],
        dkim_public_key=row["dkim_public_key"],
        record_status=json.loads(row["record_status"]),
        created_at=row["created_at"],
        verified_at=row["verified_at"],
    )


def get_domain(store: Store, account_id: str, domain_id: str) -> DomainRow | None:
    """One domain of an account by id, or None."""
    row = store.row(
        "SELECT * FROM domains WHERE id = ? AND account_id = ?", [domain_id, account_id]
    )
    return _domain(row) if row else None


def find_domain(store: Store, account_id: str, domain: str) -> DomainRow | None:
    """One domain of an account by name, or None."""
    row = store.row(
        "SELECT * FROM domains WHERE account_id = ? AND domain = ?", [account_id, domain]
    )
    return _domain(row) if row else None


def domain_page(
    store: Store, account_id: str, *, limit: int, offset: int
) -> tuple[list[DomainRow], int]:
    """One page of an account's domains, newest first, and their total."""
    total = store.scalar("SELECT count(*) FROM domains WHERE account_id = ?", [account_id])
    rows = store.rows(
        "SELECT * FROM domains WHERE account_id = ? ORDER BY created_at DESC, rowid DESC "
        "LIMIT ? OFFSET ?",
        [account_id, limit, offset],
    )
    return [_domain(row) for row in rows], int(total)


def insert_domain(store: Store, row: DomainRow) -> None:
    """Store a new domain (call inside the transaction that checked it is not taken)."""
    with store.write() as db:
        db.execute(
            "INSERT INTO domains (id, account_id, domain, status, selector, dkim_private_key, "
            "dkim_public_key, record_status, created_at, verified_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row["id"],
                row["account_id"],
                row["domain"],
                row["status"],
                row["selector"],
                row["dkim_private_key"],
                row["dkim_public_key"],
                json.dumps(row["record_status"]),
                row["created_at"],
                row["verified_at"],
            ],
        )


def set_verification(
    store: Store,
    domain_id: str,
    *,
    status: str,
    record_status: dict[str, str],
    verified_at: str | None,
) -> None:
    """Record the outcome of a verification."""
    with store.write() as db:
        db.execute(
            "UPDATE domains SET status = ?, record_status = ?, verified_at = ? WHERE id = ?",
            [status, json.dumps(record_status), verified_at, domain_id],
        )


def delete_domain(store: Store, domain_id: str) -> None:
    """Remove a domain."""
    with store.write() as db:
        db.execute("DELETE FROM domains WHERE id = ?", [domain_id])


# -- the sandbox's DNS table -----------------------------------------------------------------
def insert_records(store: Store, account_id: str, records: list[DnsRecordRow]) -> None:
    """Publish records in an account's DNS table (names already normalized)."""
    with store.write() as db:
        db.conn.executemany(
            "INSERT INTO dns_records (account_id, type, name, value, priority) "
            "VALUES (?, ?, ?, ?, ?)",
            [[account_id, r["type"], r["name"], r["value"], r["priority"]] for r in records],
        )


def account_records(store: Store, account_id: str) -> list[DnsRecordRow]:
    """Every record of an account's DNS table, in publishing order."""
    return [
        DnsRecordRow(
            type=row["type"], name=row["name"], value=row["value"], priority=row["priority"]
        )
        for row in store.rows(
            "SELECT type, name, value, priority FROM dns_records WHERE account_id = ? ORDER BY id",
            [account_id],
        )
    ]


def record_values(
    store: Store, account_id: str, name: str, record_type: str
) -> list[tuple[str, int | None]]:
    """(value, priority) of each record of one name and type in an account's table."""
    return [
        (str(row["value"]), row["priority"])
        for row in store.rows(
            "SELECT value, priority FROM dns_records "
            "WHERE account_id = ? AND name = ? AND type = ?",
            [account_id, name, record_type],
        )
    ]


def delete_records(store: Store, account_id: str) -> int:
    """Empty an account's DNS table; returns how many records went."""
    with store.write() as db:
        return int(
            db.execute("DELETE FROM dns_records WHERE account_id = ?", [account_id]).rowcount
        )

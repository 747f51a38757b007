"""The ``audit_log`` table: one row per change an account made."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from mailbot_sandbox.store.db import Store


class AuditRow(TypedDict):
    """An audit entry, its metadata decoded."""

    id: str
    account_id: str
    action: str
    target_type: str
    target_id: str
    inbox_id: str | None
    metadata: dict[str, Any]
    created_at: str


def insert_entry(store: Store, row: AuditRow) -> None:
    """Store one entry; inside an open write transaction it commits (or not) with it."""
    with store.write() as db:
        db.execute(
            "INSERT INTO audit_log (id, account_id, action, target_type, target_id, inbox_id, "
            "metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row["id"],
                row["account_id"],
                row["action"],
                row["target_type"],
                row["target_id"],
                row["inbox_id"],
                json.dumps(row["metadata"], separators=(",", ":")),
                row["created_at"],
            ],
        )


def entry_page(
    store: Store,
    account_id: str,
    *,
    limit: int,
    offset: int,
    action: str | None = None,
    target_type: str | None = None,
    inbox_id: str | None = None,
) -> tuple[list[AuditRow], int]:
    """One page of an account's entries, newest (last recorded) first, and their total."""
    where, params = ["account_id = ?"], [account_id]
    for column, value in (("action", action), ("target_type", target_type), ("inbox_id", inbox_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = " AND ".join(where)
    total = store.scalar(f"SELECT count(*) FROM audit_log WHERE {clause}", params)
    rows = store.rows(
        f"SELECT * FROM audit_log WHERE {clause} ORDER BY rowid DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [_entry(row) for row in rows], int(total)


def _entry(row: dict[str, Any]) -> AuditRow:
    return AuditRow(
        id=row["id"],
        account_id=row["account_id"],
        action=row["action"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        inbox_id=row["inbox_id"],
        metadata=json.loads(row["metadata"]),
        created_at=row["created_at"],
    )

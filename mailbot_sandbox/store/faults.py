"""The ``faults`` table: at most one injected fault per inbox (control plane)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any, Literal, TypedDict

from mailbot_sandbox.store.db import Store

Scope = Literal["send", "receive"]


class FaultRow(TypedDict):
    """An inbox's injected fault: ``fail_next`` failures still to come, then only latency."""

    inbox_id: str
    account_id: str
    fail_next: int
    status: int
    smtp_code: int
    retry_after: int
    latency_ms: int
    applies_to: list[Scope]
    created_at: str


_COLUMNS = (
    "inbox_id, account_id, fail_next, status, smtp_code, retry_after, latency_ms, "
    "applies_to, created_at"
)
_NAMES = _COLUMNS.split(", ")


def _row(found: Sequence[Any] | dict[str, Any] | None) -> FaultRow | None:
    if found is None:
        return None
    values = found if isinstance(found, dict) else dict(zip(_NAMES, found, strict=True))
    return FaultRow(
        inbox_id=values["inbox_id"],
        account_id=values["account_id"],
        fail_next=values["fail_next"],
        status=values["status"],
        smtp_code=values["smtp_code"],
        retry_after=values["retry_after"],
        latency_ms=values["latency_ms"],
        applies_to=json.loads(values["applies_to"]),
        created_at=values["created_at"],
    )


def get_fault(store: Store, account_id: str, inbox_id: str) -> FaultRow | None:
    """The fault set on an inbox of the account, or None."""
    return _row(
        store.row(
            f"SELECT {_COLUMNS} FROM faults WHERE inbox_id = ? AND account_id = ?",
            [inbox_id, account_id],
        )
    )


def fault_of(store: Store, inbox_id: str) -> FaultRow | None:
    """The fault set on an inbox, or None: one primary-key read of committed data on every
    send path, which never waits for a writer."""
    found = store.committed_rows(f"SELECT {_COLUMNS} FROM faults WHERE inbox_id = ?", [inbox_id])
    return _row(found[0]) if found else None


def fault_at(store: Store, address: str) -> FaultRow | None:
    """The fault set on the inbox at a lower-cased address, or None (as :func:`fault_of`)."""
    found = store.committed_rows(
        f"SELECT {_COLUMNS} FROM faults WHERE inbox_id IN "
        "(SELECT id FROM inboxes WHERE address = ?) LIMIT 1",
        [address],
    )
    return _row(found[0]) if found else None


def put_fault(conn: sqlite3.Connection, row: FaultRow) -> None:
    """Set an inbox's fault, replacing the one it had."""
    conn.execute(
        f"INSERT OR REPLACE INTO faults ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            row["inbox_id"],
            row["account_id"],
            row["fail_next"],
            row["status"],
            row["smtp_code"],
            row["retry_after"],
            row["latency_ms"],
            json.dumps(row["applies_to"]),
            row["created_at"],
        ],
    )


def delete_fault(conn: sqlite3.Connection, account_id: str, inbox_id: str) -> int:
    """Clear an inbox's fault; 1 when there was one, else 0."""
    return conn.execute(
        "DELETE FROM faults WHERE inbox_id = ? AND account_id = ?", [inbox_id, account_id]
    ).rowcount


def take_failure(conn: sqlite3.Connection, inbox_id: str, scope: Scope) -> FaultRow | None:
    """Use up one of the inbox's failures for ``scope``: the fault as it is after this one
    (``fail_next`` counts those still to come), or None when no failure is left. Inside the
    write transaction, so racing sends use up exactly ``fail_next`` failures."""
    return _row(
        conn.execute(
            f"UPDATE faults SET fail_next = fail_next - 1 WHERE inbox_id = ? AND fail_next > 0 "
            f"AND instr(applies_to, ?) > 0 RETURNING {_COLUMNS}",
            [inbox_id, f'"{scope}"'],
        ).fetchone()
    )

"""The ``captured`` table: mail inboxes sent to addresses outside the sandbox."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, TypedDict

from mailbot_sandbox.store.db import Store

_SELECT = (
    "SELECT c.id, c.inbox_id, c.message_id, c.mail_from, c.recipients, c.created_at, "
    "c.raw_id, m.subject, m.body_text, m.body_html, m.to_addresses, m.cc_addresses, "
    "m.size FROM captured c JOIN messages m ON m.id = c.message_id"
)


class CapturedRow(TypedDict):
    """One captured send, with the sender's copy's subject, bodies and header recipients."""

    id: str
    inbox_id: str
    message_id: str
    mail_from: str
    recipients: list[str]
    created_at: str
    raw_id: int
    subject: str
    body_text: str | None
    body_html: str | None
    to_addresses: list[str]
    cc_addresses: list[str]
    size: int


def _captured(row: dict[str, Any]) -> CapturedRow:
    return CapturedRow(
        id=row["id"],
        inbox_id=row["inbox_id"],
        message_id=row["message_id"],
        mail_from=row["mail_from"],
        recipients=json.loads(row["recipients"]),
        created_at=row["created_at"],
        raw_id=row["raw_id"],
        subject=row["subject"],
        body_text=row["body_text"],
        body_html=row["body_html"],
        to_addresses=json.loads(row["to_addresses"]),
        cc_addresses=json.loads(row["cc_addresses"]),
        size=row["size"],
    )


def insert_captured(
    conn: sqlite3.Connection,
    captured_id: str,
    *,
    account_id: str,
    inbox_id: str,
    message_id: str,
    mail_from: str,
    recipients: list[str],
    raw_id: int,
    created_at: str,
) -> None:
    """Keep a send to outside addresses (inside the sending transaction)."""
    conn.execute(
        "INSERT INTO captured (id, account_id, inbox_id, message_id, mail_from, "
        "recipients, raw_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            captured_id,
            account_id,
            inbox_id,
            message_id,
            mail_from,
            json.dumps(recipients),
            raw_id,
            created_at,
        ],
    )


def captured_page(
    store: Store,
    account_id: str,
    *,
    limit: int,
    offset: int,
    to: str | None = None,
    inbox_id: str | None = None,
) -> tuple[list[CapturedRow], int]:
    """Newest first; ``to`` matches one recipient exactly (case-insensitive)."""
    where, params = ["c.account_id = ?"], [account_id]
    if inbox_id:
        where.append("c.inbox_id = ?")
        params.append(inbox_id)
    if to is not None:
        where.append(
            "EXISTS (SELECT 1 FROM json_each(c.recipients) WHERE json_each.value = lower(?))"
        )
        params.append(to)
    clause = " AND ".join(where)
    total = store.scalar(f"SELECT count(*) FROM captured c WHERE {clause}", params)
    rows = store.rows(
        f"{_SELECT} WHERE {clause} ORDER BY c.rowid DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [_captured(r) for r in rows], int(total)


def get_captured(store: Store, account_id: str, captured_id: str) -> CapturedRow | None:
    """One captured send of an account, or None."""
    row = store.row(f"{_SELECT} WHERE c.id = ? AND c.account_id = ?", [captured_id, account_id])
    return _captured(row) if row else None

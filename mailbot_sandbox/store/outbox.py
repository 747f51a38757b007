"""The ``captured`` table: mail inboxes sent to addresses outside the sandbox."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, TypedDict

from mailbot_sandbox.store.db import Store

# An entry of an API or SMTP send shows its sender's copy; one the catch-all captured (no
# sender's copy) shows the fields kept with it.
_OWN_OR_COPY = ", ".join(
    f"CASE WHEN c.message_id IS NULL THEN c.{name} ELSE m.{name} END AS {name}"
    for name in ("subject", "body_text", "body_html", "to_addresses", "cc_addresses", "size")
)
_SELECT = (
    "SELECT c.id, c.inbox_id, c.message_id, c.mail_from, c.recipients, c.created_at, "
    f"c.raw_id, c.attachments, {_OWN_OR_COPY} "
    "FROM captured c LEFT JOIN messages m ON m.id = c.message_id"
)


class CapturedAttachment(TypedDict):
    """An attachment of a captured message, as its entry lists it."""

    filename: str
    content_type: str
    size: int


class CapturedRow(TypedDict):
    """One captured message with its subject, bodies and header recipients; ``inbox_id``
    and ``message_id`` (the sending inbox, the sender's copy) are None for mail the
    catch-all captured from plain SMTP."""

    id: str
    inbox_id: str | None
    message_id: str | None
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
    attachments: list[CapturedAttachment]


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
        attachments=json.loads(row["attachments"]),
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
    attachments: list[CapturedAttachment],
) -> None:
    """Keep a send to outside addresses (inside the sending transaction)."""
    conn.execute(
        "INSERT INTO captured (id, account_id, inbox_id, message_id, mail_from, "
        "recipients, raw_id, created_at, attachments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            captured_id,
            account_id,
            inbox_id,
            message_id,
            mail_from,
            json.dumps(recipients),
            raw_id,
            created_at,
            json.dumps(attachments),
        ],
    )


def insert_caught(
    conn: sqlite3.Connection,
    captured_id: str,
    *,
    account_id: str,
    mail_from: str,
    recipients: list[str],
    raw_id: int,
    created_at: str,
    subject: str,
    body_text: str | None,
    body_html: str | None,
    to_addresses: list[str],
    cc_addresses: list[str],
    size: int,
    attachments: list[CapturedAttachment],
) -> None:
    """Keep mail the catch-all captured: no sending inbox, no sender's copy, so the entry
    holds its own fields (inside the receiving transaction)."""
    conn.execute(
        "INSERT INTO captured (id, account_id, inbox_id, message_id, mail_from, recipients, "
        "raw_id, created_at, subject, body_text, body_html, to_addresses, cc_addresses, "
        "size, attachments) VALUES (?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            captured_id,
            account_id,
            mail_from,
            json.dumps(recipients),
            raw_id,
            created_at,
            subject,
            body_text,
            body_html,
            json.dumps(to_addresses),
            json.dumps(cc_addresses),
            size,
            json.dumps(attachments),
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

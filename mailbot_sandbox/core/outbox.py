"""Captured external mail: what inboxes sent to addresses outside the sandbox.

Nothing ever leaves the machine; each such send is kept here for tests to assert on.
"""

from __future__ import annotations

import json
from typing import Any

from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.errors import NotFound
from mailbot_sandbox.store import Store

_SELECT = (
    "SELECT c.id, c.inbox_id, c.message_id, c.mail_from, c.recipients, c.created_at, "
    "c.raw_id, m.subject, m.body_text, m.body_html, m.to_addresses, m.cc_addresses, "
    "m.size FROM captured c JOIN messages m ON m.id = c.message_id"
)


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for name in ("recipients", "to_addresses", "cc_addresses"):
        row[name] = json.loads(row[name])
    return row


class Outbox:
    def __init__(self, store: Store) -> None:
        self._store = store

    def list_page(
        self,
        account: Account,
        *,
        page: int,
        limit: int,
        to: str | None = None,
        inbox_id: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first; ``to`` matches one recipient exactly (case-insensitive)."""
        where, params = ["c.account_id = ?"], [account.id]
        if inbox_id:
            where.append("c.inbox_id = ?")
            params.append(inbox_id)
        if to:
            where.append(
                "EXISTS (SELECT 1 FROM json_each(c.recipients) WHERE json_each.value = lower(?))"
            )
            params.append(to.strip())
        clause = " AND ".join(where)
        total = self._store.scalar(f"SELECT count(*) FROM captured c WHERE {clause}", params)
        rows = self._store.rows(
            f"{_SELECT} WHERE {clause} ORDER BY c.rowid DESC LIMIT ? OFFSET ?",
            [*params, limit, (page - 1) * limit],
        )
        return [_decode(r) for r in rows], int(total)

    def get(self, account: Account, captured_id: str) -> dict[str, Any]:
        row = self._store.row(
            f"{_SELECT} WHERE c.id = ? AND c.account_id = ?", [captured_id, account.id]
        )
        if row is None:
            raise NotFound(f"captured message {captured_id!r} not found")
        return _decode(row)

    def raw(self, account: Account, captured_id: str) -> bytes:
        row = self.get(account, captured_id)
        return bytes(self._store.scalar("SELECT data FROM blobs WHERE id = ?", [row["raw_id"]]))


def outbox_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: row[key]
        for key in (
            "id",
            "inbox_id",
            "message_id",
            "mail_from",
            "recipients",
            "to_addresses",
            "cc_addresses",
            "subject",
            "body_text",
            "body_html",
            "size",
            "created_at",
        )
    }

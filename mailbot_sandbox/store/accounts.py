"""The ``accounts`` table: who holds which API key, and each account's clock offset."""

from __future__ import annotations

from typing import TypedDict

from mailbot_sandbox.store.db import Store


class AccountRow(TypedDict):
    """An account as the rest of the package needs it."""

    id: str
    short_id: str


def account_by_key_hash(store: Store, key_hash: str) -> AccountRow | None:
    """The account whose API key hashes to ``key_hash``, or None."""
    row = store.row("SELECT id, short_id FROM accounts WHERE key_hash = ?", [key_hash])
    return AccountRow(id=row["id"], short_id=row["short_id"]) if row else None


def account_by_id(store: Store, account_id: str) -> AccountRow | None:
    """The account with this id, or None."""
    row = store.row("SELECT id, short_id FROM accounts WHERE id = ?", [account_id])
    return AccountRow(id=row["id"], short_id=row["short_id"]) if row else None


def all_accounts(store: Store) -> list[AccountRow]:
    """Every account, oldest first."""
    return [
        AccountRow(id=row["id"], short_id=row["short_id"])
        for row in store.rows("SELECT id, short_id FROM accounts ORDER BY rowid")
    ]


def all_account_ids(store: Store) -> list[str]:
    """The id of every account."""
    return [str(row["id"]) for row in store.rows("SELECT id FROM accounts")]


def insert_account(store: Store, account: AccountRow, key_hash: str, created_at: str) -> bool:
    """Store a new account; False (and nothing happens) when another writer stored it first."""
    with store.write() as db:
        cursor = db.execute(
            "INSERT OR IGNORE INTO accounts (id, key_hash, short_id, created_at) "
            "VALUES (?, ?, ?, ?)",
            [account["id"], key_hash, account["short_id"], created_at],
        )
    return bool(cursor.rowcount)


def clock_offset(store: Store, account_id: str) -> float:
    """Seconds the account's clock runs ahead of real time (0 for an unknown account)."""
    return float(
        store.scalar("SELECT clock_offset FROM accounts WHERE id = ?", [account_id]) or 0.0
    )


def set_clock_offset(store: Store, account_id: str, seconds: float) -> None:
    """Move the account's clock to ``seconds`` ahead of real time."""
    with store.write() as db:
        db.execute("UPDATE accounts SET clock_offset = ? WHERE id = ?", [seconds, account_id])

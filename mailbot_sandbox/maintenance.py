"""Whole-account operations of the control plane."""

from __future__ import annotations

from mailbot_sandbox.accounts import Account
from mailbot_sandbox.store import Store


def reset_account(store: Store, account: Account) -> dict[str, int]:
    """Erase everything one account holds (the account and its clock stay); counts per kind."""
    scope = "account_id = ?"
    with store.write() as db:
        conn = db.conn
        counts = {
            "messages": conn.execute(
                f"SELECT count(*) FROM messages WHERE {scope}", [account.id]
            ).fetchone()[0],
            "inboxes": conn.execute(
                f"SELECT count(*) FROM inboxes WHERE {scope}", [account.id]
            ).fetchone()[0],
        }
        conn.execute(
            f"DELETE FROM messages_fts WHERE rowid IN (SELECT seq FROM messages WHERE {scope})",
            [account.id],
        )
        for table in ("captured", "messages", "threads"):
            conn.execute(f"DELETE FROM {table} WHERE {scope}", [account.id])
        conn.execute(
            f"DELETE FROM send_counts WHERE inbox_id IN (SELECT id FROM inboxes WHERE {scope})",
            [account.id],
        )
        for table in ("inboxes", "domains", "dns_records"):
            conn.execute(f"DELETE FROM {table} WHERE {scope}", [account.id])
        # Blobs may be shared with other accounts' copies of the same message.
        conn.execute(
            "DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE "
            "m.raw_id = blobs.id) AND NOT EXISTS (SELECT 1 FROM captured c "
            "WHERE c.raw_id = blobs.id)"
        )
    return counts

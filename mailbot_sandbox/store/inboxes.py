"""The ``inboxes`` table."""

from __future__ import annotations

from mailbot_sandbox.store.db import Store


def count_active_on_domain(store: Store, account_id: str, domain: str) -> int:
    """How many active inboxes of an account have addresses on ``domain``."""
    return int(
        store.scalar(
            "SELECT count(*) FROM inboxes WHERE account_id = ? AND domain = ? "
            "AND status = 'active'",
            [account_id, domain],
        )
    )

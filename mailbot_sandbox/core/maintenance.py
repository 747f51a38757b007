"""Erasing for the control plane (a whole account, or one inbox; the API only disables) and
the store's health and size, for the readiness and metrics routes."""

from __future__ import annotations

import sqlite3

from mailbot_sandbox.core import audit
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.errors import NotFound
from mailbot_sandbox.store import Store, upkeep


def erase_inbox(store: Store, account: Account, inbox_id: str) -> dict[str, int]:
    """Remove one inbox and everything in it, freeing its address; counts per kind.

    Raises:
        NotFound: the account has no such inbox.
    """
    with store.write():
        messages = upkeep.erase_inbox(store, account.id, inbox_id)
        if messages is None:
            raise NotFound(f"inbox {inbox_id!r} not found")
        audit.record(
            store,
            account.id,
            "inbox.erased",
            "inbox",
            inbox_id,
            inbox_id=inbox_id,
            metadata={"messages": messages},
        )
    return {"inboxes": 1, "messages": messages}


def clear_inbox(store: Store, account: Account, inbox_id: str) -> dict[str, int]:
    """Remove every message and thread of one inbox, keeping the inbox; counts per kind.

    Raises:
        NotFound: the account has no such inbox.
    """
    with store.write():
        messages = upkeep.clear_inbox(store, account.id, inbox_id)
        if messages is None:
            raise NotFound(f"inbox {inbox_id!r} not found")
        audit.record(
            store,
            account.id,
            "inbox.cleared",
            "inbox",
            inbox_id,
            inbox_id=inbox_id,
            metadata={"messages": messages},
        )
    return {"messages": messages}


def reset_account(store: Store, account: Account) -> dict[str, int]:
    """Erase everything one account holds (the account, its clock and its audit log stay);
    counts per kind."""
    with store.write():
        messages, inboxes = upkeep.reset_account(store, account.id)
        audit.record(
            store,
            account.id,
            "account.reset",
            "account",
            account.id,
            metadata={"messages": messages, "inboxes": inboxes},
        )
    return {"messages": messages, "inboxes": inboxes}


def database_state(store: Store) -> str:
    """``ok`` when the database answers, else ``error: <why>``."""
    try:
        upkeep.probe(store)
    except sqlite3.Error as exc:
        return f"error: {exc}"
    return "ok"


def store_totals(store: Store) -> dict[str, int]:
    """How many messages and inboxes the store holds, over every account."""
    return {"messages": upkeep.message_total(store), "inboxes": upkeep.inbox_total(store)}

"""Erasing for the control plane (a whole account, or one inbox; the API only disables) and
the store's health and size, for the readiness and metrics routes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from mailbot_sandbox.core import audit
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.errors import NotFound
from mailbot_sandbox.store import Store, upkeep


def erase_inbox(store: Store, account: Account, inbox_id: str) -> dict[str, int]:
    """Remove one inbox and everything in it, freeing its address; counts per kind.

    Raises:
        NotFound: the account has no such inbox.
    """
    messages = _empty(store, account, inbox_id, upkeep.erase_inbox, "inbox.erased")
    return {"inboxes": 1, "messages": messages}


def clear_inbox(store: Store, account: Account, inbox_id: str) -> dict[str, int]:
    """Remove every message and thread of one inbox, keeping the inbox; counts per kind.

    Raises:
        NotFound: the account has no such inbox.
    """
    return {"messages": _empty(store, account, inbox_id, upkeep.clear_inbox, "inbox.cleared")}


def _empty(
    store: Store,
    account: Account,
    inbox_id: str,
    remove: Callable[[Store, str, str], int | None],
    action: str,
) -> int:
    """Run ``remove`` (an upkeep eraser) on one inbox and audit it as ``action``, in one
    transaction; how many messages went."""
    with store.write():
        messages = remove(store, account.id, inbox_id)
        if messages is None:
            raise NotFound(f"inbox {inbox_id!r} not found")
        audit.record(
            store,
            account.id,
            action,
            "inbox",
            inbox_id,
            inbox_id=inbox_id,
            metadata={"messages": messages},
        )
    return messages


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

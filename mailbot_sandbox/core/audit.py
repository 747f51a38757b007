"""The audit log: every change an account makes, recorded in the transaction that makes it.

Actions are ``<target type>.<what happened>``: ``account.created`` (an API key's first use),
``account.reset``, ``inbox.created``, ``inbox.updated``, ``inbox.status_changed``,
``inbox.disabled``, ``inbox.erased``, ``domain.created``, ``domain.verified``,
``domain.verification_failed``, ``domain.deleted``, ``webhook.created``, ``webhook.deleted``
(account-wide or for one inbox: then the entry carries its ``inbox_id``), ``fault.set``,
``fault.cleared``. A new kind of change records itself with
:func:`record`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.ids import format_time, new_id
from mailbot_sandbox.store import Store, audit
from mailbot_sandbox.store.audit import AuditRow

if TYPE_CHECKING:  # accounts records its own creation here
    from mailbot_sandbox.core.accounts import Account


def record(
    store: Store,
    account_id: str,
    action: str,
    target_type: str,
    target_id: str,
    *,
    inbox_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Record one change of an account, timed by the account clock.

    Call it inside the ``store.write()`` block that makes the change: the entry then commits
    or rolls back with it, so the log never shows a change that did not happen, nor misses
    one that did. Outside a transaction it commits on its own.

    Args:
        action: what happened, ``<target_type>.<verb>`` (``webhook.created``).
        target_type: the kind of object changed (``inbox``, ``domain``, ``account``, ...).
        target_id: its id.
        inbox_id: the inbox the change is about, when there is one (the log filters on it).
        metadata: JSON-serializable details (what changed, from what to what).
    """
    audit.insert_entry(
        store,
        AuditRow(
            id=new_id("aud"),
            account_id=account_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            inbox_id=inbox_id,
            metadata=dict(metadata or {}),
            created_at=format_time(Clock(store).now(account_id)),
        ),
    )


class AuditLog:
    """Reads an account's audit log."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def list_page(
        self,
        account: Account,
        *,
        page: int,
        limit: int,
        action: str | None = None,
        target_type: str | None = None,
        inbox_id: str | None = None,
    ) -> tuple[list[AuditRow], int]:
        """One page of the account's entries, newest first, and their total."""
        return audit.entry_page(
            self._store,
            account.id,
            limit=limit,
            offset=(page - 1) * limit,
            action=action,
            target_type=target_type,
            inbox_id=inbox_id,
        )

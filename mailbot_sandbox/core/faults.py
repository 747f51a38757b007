"""Faults injected into one inbox through the control plane, so an app's retry and error
paths can be tested: the inbox's next N sends (API or SMTP submission) or SMTP deliveries
fail, and each may first be delayed.

A failure is a reason (:class:`~mailbot_sandbox.core.policy.InjectedFault`) like any other
refusal: the API answers it with the chosen status, the SMTP side with the chosen reply code.
The fault lives in the database, so every worker process of ``serve`` obeys it, and racing
sends use up exactly ``fail_next`` failures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mailbot_sandbox.core import audit
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.core.inboxes import Inboxes
from mailbot_sandbox.core.policy import InjectedFault, refusal
from mailbot_sandbox.errors import InvalidRequest
from mailbot_sandbox.ids import format_time
from mailbot_sandbox.store import Store, faults
from mailbot_sandbox.store.faults import FaultRow, Scope
from mailbot_sandbox.store.inboxes import InboxRow

MAX_LATENCY_MS = 30_000  # an API send sleeps on its request thread: keep that bounded
MAX_FAILURES = 1_000


@dataclass(frozen=True, kw_only=True)
class NewFault:
    """A fault to set on an inbox. The API's body shape checks the values and holds their
    defaults: ``status`` and ``smtp_code`` are the protocols' business, carried here as data."""

    fail_next: int
    status: int
    smtp_code: int
    retry_after: int
    latency_ms: int
    applies_to: tuple[Scope, ...]


class Faults:
    """Sets, reads and clears an inbox's fault, and applies it to the send paths."""

    def __init__(self, store: Store, clock: Clock, inboxes: Inboxes) -> None:
        self._store = store
        self._clock = clock
        self._inboxes = inboxes

    # -- control plane ---------------------------------------------------------------------------
    def set(self, account: Account, inbox_id: str, new: NewFault) -> FaultRow:
        """Set the inbox's fault, replacing any it had.

        Raises:
            NotFound: the account has no such inbox.
            InvalidRequest: the fault would do nothing (no failure, no latency).
        """
        inbox = self._inboxes.row(account, inbox_id)
        if not new.fail_next and not new.latency_ms:
            raise InvalidRequest("a fault needs fail_next or latency_ms above 0")
        row = FaultRow(
            inbox_id=inbox["id"],
            account_id=account.id,
            fail_next=new.fail_next,
            status=new.status,
            smtp_code=new.smtp_code,
            retry_after=new.retry_after,
            latency_ms=new.latency_ms,
            applies_to=list(dict.fromkeys(new.applies_to)),
            created_at=format_time(self._clock.now(account.id)),
        )
        with self._store.write() as db:
            faults.put_fault(db.conn, row)
            metadata = {k: v for k, v in row.items() if k not in ("inbox_id", "account_id")}
            audit.record(
                self._store,
                account.id,
                "fault.set",
                "inbox",
                inbox_id,
                inbox_id=inbox_id,
                metadata=metadata,
            )
        return row

    def get(self, account: Account, inbox_id: str) -> FaultRow | None:
        """The inbox's fault, or None.

        Raises:
            NotFound: the account has no such inbox.
        """
        self._inboxes.row(account, inbox_id)
        return faults.get_fault(self._store, account.id, inbox_id)

    def clear(self, account: Account, inbox_id: str) -> int:
        """Clear the inbox's fault; 1 when it had one, else 0.

        Raises:
            NotFound: the account has no such inbox.
        """
        self._inboxes.row(account, inbox_id)
        with self._store.write() as db:
            cleared = faults.delete_fault(db.conn, account.id, inbox_id)
            if cleared:
                audit.record(
                    self._store, account.id, "fault.cleared", "inbox", inbox_id, inbox_id=inbox_id
                )
        return cleared

    # -- the send paths --------------------------------------------------------------------------
    def pending(self, inbox_id: str, scope: Scope) -> FaultRow | None:
        """The inbox's fault when it still delays or fails ``scope``, else None (one read)."""
        row = faults.fault_of(self._store, inbox_id)
        return row if row is not None and _applies(row, scope) else None

    def pending_at(self, address: str, scope: Scope) -> FaultRow | None:
        """As :meth:`pending`, for the inbox at ``address``."""
        row = faults.fault_at(self._store, address.strip().lower())
        return row if row is not None and _applies(row, scope) else None

    def take(self, inbox_id: str, address: str, scope: Scope) -> InjectedFault | None:
        """Use up one failure of the inbox's fault for ``scope``: the reason to refuse mail
        from or to ``address`` with, or None when no failure is left (another send took the
        last)."""
        with self._store.write() as db:
            row = faults.take_failure(db.conn, inbox_id, scope)
        if row is None:
            return None
        return InjectedFault(
            address, row["status"], row["smtp_code"], row["retry_after"], row["fail_next"]
        )

    def before_api_send(self, inbox: InboxRow) -> None:
        """Apply the inbox's fault to an API send: sleep its latency, then fail if a failure
        is left. The sleep holds this request's thread (at most ``MAX_LATENCY_MS``), as a
        slow upstream would; other requests and inboxes go on on their own threads.

        Raises:
            Refused: :class:`~mailbot_sandbox.core.policy.InjectedFault`.
        """
        row = self.pending(inbox["id"], "send")
        if row is None:
            return
        if row["latency_ms"]:
            time.sleep(row["latency_ms"] / 1000)
        if row["fail_next"]:
            reason = self.take(inbox["id"], inbox["address"], "send")
            if reason is not None:
                raise refusal(reason)


def _applies(row: FaultRow, scope: Scope) -> bool:
    return scope in row["applies_to"] and (row["fail_next"] > 0 or row["latency_ms"] > 0)

"""Inboxes: the unit of isolation. Address, permissions, status and daily send limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from mailbot_sandbox.config import Config
from mailbot_sandbox.core import audit
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock, utc_day
from mailbot_sandbox.core.domains import Domains
from mailbot_sandbox.core.events import INBOX_FIELDS, Events
from mailbot_sandbox.core.policy import AmbiguousRecipient, refusal
from mailbot_sandbox.errors import Conflict, NotFound
from mailbot_sandbox.ids import format_time, new_id
from mailbot_sandbox.store import Store, inboxes
from mailbot_sandbox.store.inboxes import InboxRow, InboxWithCounts

PERMISSIONS = ("send", "receive", "search")
STATUSES = ("active", "disabled", "suspended")
DEFAULT_DAILY_SEND_LIMIT = 250
MAX_DAILY_SEND_LIMIT = 10_000


@dataclass(frozen=True, kw_only=True)
class NewInbox:
    """A checked request for a new inbox (``username`` lowercased, ``domain`` a host name;
    None means the shared development domain)."""

    username: str
    domain: str | None = None
    display_name: str | None = None
    daily_send_limit: int = DEFAULT_DAILY_SEND_LIMIT
    permissions: list[str] = field(default_factory=lambda: list(PERMISSIONS))
    labels: list[str] = field(default_factory=list)


class Keep(Enum):
    """The value of an :class:`InboxChanges` field that stays as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True, kw_only=True)
class InboxChanges:
    """Checked changes to an inbox; a field left at :data:`KEEP` is not touched."""

    display_name: str | Keep | None = KEEP
    daily_send_limit: int | Keep = KEEP
    permissions: list[str] | Keep = KEEP
    status: str | Keep = KEEP
    labels: list[str] | Keep = KEEP

    def changed(self) -> dict[str, Any]:
        """The fields to change, by name."""
        names = ("display_name", "daily_send_limit", "permissions", "status", "labels")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not KEEP}


class Inboxes:
    """Creates, reads and changes inboxes; every rule about them is checked here."""

    def __init__(
        self, store: Store, clock: Clock, domains: Domains, config: Config, events: Events
    ) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._domains = domains
        self._config = config

    # -- reads -----------------------------------------------------------------------------
    def get(self, account: Account, inbox_id: str) -> InboxWithCounts:
        """The inbox with its live counters (what the API shows); NotFound when it is not this
        account's. Internal checks use :meth:`row`, which skips the counting."""
        return self._with_counters(account, [self.row(account, inbox_id)])[0]

    def row(self, account: Account, inbox_id: str) -> InboxRow:
        """The stored inbox without counters; NotFound when it is not this account's."""
        row = inboxes.get_inbox(self._store, account.id, inbox_id)
        if row is None:
            raise NotFound(f"inbox {inbox_id!r} not found")
        return row

    def find_by_address(self, address: str, account_id: str | None = None) -> InboxRow | None:
        """The inbox mail to ``address`` (case-insensitive) goes to, from any account.

        Shared-domain addresses carry their account and are unique; a custom-domain address
        may exist once per account: ``account_id`` (the sender's) is preferred, otherwise
        the single holder is.

        Raises:
            Refused: :class:`~mailbot_sandbox.core.policy.AmbiguousRecipient`, several other
                accounts hold the address.
        """
        rows = inboxes.inboxes_at(self._store, address.strip().lower())
        preferred = [r for r in rows if r["account_id"] == account_id]
        if preferred:
            return preferred[0]
        if len(rows) > 1:
            raise refusal(AmbiguousRecipient(address, len(rows)))
        return rows[0] if rows else None

    def list_page(
        self,
        account: Account,
        *,
        page: int,
        limit: int,
        status: str | None = None,
        domain: str | None = None,
    ) -> tuple[list[InboxWithCounts], int]:
        rows, total = inboxes.inbox_page(
            self._store,
            account.id,
            limit=limit,
            offset=(page - 1) * limit,
            status=status,
            domain=None if domain is None else domain.strip().lower(),
        )
        return self._with_counters(account, rows), total

    def _with_counters(self, account: Account, rows: list[InboxRow]) -> list[InboxWithCounts]:
        day = utc_day(self._clock.now(account.id)) if rows else ""
        counts = inboxes.inbox_counts(self._store, [row["id"] for row in rows], day)
        return [InboxWithCounts(**row, **counts[row["id"]]) for row in rows]

    # -- writes ----------------------------------------------------------------------------
    def create(self, account: Account, new: NewInbox) -> InboxWithCounts:
        """Store a new inbox.

        Raises:
            Conflict: the address is taken.
            Refused: strict domain policy and the domain is not verified.
        """
        username = new.username
        shared = self._config.shared_domain
        domain = new.domain or shared
        self._domains.require_for_inbox(account, domain)
        if domain == shared:
            address = f"{username}--{account.short_id}@{shared}"
        else:
            address = f"{username}@{domain}"
        now = format_time(self._clock.now(account.id))
        row = InboxRow(
            id=new_id("inb"),
            account_id=account.id,
            address=address,
            username=username,
            display_name=new.display_name,
            domain=domain,
            status="active",
            permissions=list(new.permissions),
            daily_send_limit=new.daily_send_limit,
            labels=list(new.labels),
            created_at=now,
            updated_at=now,
        )
        with self._store.write():
            if not inboxes.insert_inbox(self._store, row):
                raise Conflict(f"address {address} already exists", details={"address": address})
            audit.record(
                self._store,
                account.id,
                "inbox.created",
                "inbox",
                row["id"],
                inbox_id=row["id"],
                metadata={
                    "address": address,
                    "permissions": row["permissions"],
                    "daily_send_limit": row["daily_send_limit"],
                },
            )
        return self.get(account, row["id"])

    def update(self, account: Account, inbox_id: str, changes: InboxChanges) -> InboxWithCounts:
        """Apply ``changes``; the inbox as it is now."""
        return self._change(account, inbox_id, changes.changed())

    def set_status(
        self, account: Account, inbox_id: str, status: str, *, reason: str | None = None
    ) -> InboxWithCounts:
        """Set ``active``, ``disabled`` or ``suspended`` (one of :data:`STATUSES`); a
        ``reason`` (why the sandbox itself did it) goes into the event and the audit entry."""
        return self._change(account, inbox_id, {"status": status}, reason=reason)

    def _change(
        self,
        account: Account,
        inbox_id: str,
        fields: dict[str, Any],
        *,
        reason: str | None = None,
    ) -> InboxWithCounts:
        """Change the inbox, record ``inbox.updated`` and audit what changed, in one
        transaction."""
        now = format_time(self._clock.now(account.id))
        with self._store.write() as db:
            before = self.row(account, inbox_id)  # NotFound before anything changes
            inboxes.update_inbox(self._store, inbox_id, {**fields, "updated_at": now})
            changed = self.get(account, inbox_id)
            data: dict[str, Any] = {key: changed[key] for key in INBOX_FIELDS}  # type: ignore[literal-required]
            if reason is not None:
                data["reason"] = reason
            self._events.record(
                db.conn, "inbox.updated", account_id=account.id, inbox_id=inbox_id, data=data
            )
            self._record_changes(account, before, fields, reason)
        return changed

    def _record_changes(
        self,
        account: Account,
        before: InboxRow,
        fields: dict[str, Any],
        reason: str | None = None,
    ) -> None:
        """Audit what really changed: the status on its own (``inbox.disabled`` or
        ``inbox.status_changed``), every other field together (``inbox.updated``)."""
        changed = {
            name: {"from": before[name], "to": value}  # type: ignore[literal-required]
            for name, value in fields.items()
            if before[name] != value  # type: ignore[literal-required]
        }
        status = changed.pop("status", None)
        if status is not None:
            action = "inbox.disabled" if status["to"] == "disabled" else "inbox.status_changed"
            self._record(
                account, before, action, {**status, **({"reason": reason} if reason else {})}
            )
        if changed:
            self._record(account, before, "inbox.updated", {"changes": changed})

    def _record(
        self, account: Account, inbox: InboxRow, action: str, metadata: dict[str, Any]
    ) -> None:
        audit.record(
            self._store,
            account.id,
            action,
            "inbox",
            inbox["id"],
            inbox_id=inbox["id"],
            metadata={"address": inbox["address"], **metadata},
        )

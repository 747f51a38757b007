"""Inboxes: the unit of isolation. Address, permissions, status and daily send limit."""

from __future__ import annotations

from typing import Any

from mailbot_sandbox.config import Config
from mailbot_sandbox.core import fields as validation
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock, utc_day
from mailbot_sandbox.core.domains import Domains
from mailbot_sandbox.core.policy import AmbiguousRecipient, refusal
from mailbot_sandbox.errors import Conflict, InvalidRequest, NotFound
from mailbot_sandbox.ids import format_time, new_id
from mailbot_sandbox.store import Store, inboxes
from mailbot_sandbox.store.inboxes import InboxRow, InboxWithCounts

PERMISSIONS = ("send", "receive", "search")
STATUSES = ("active", "disabled", "suspended")
DEFAULT_DAILY_SEND_LIMIT = 250
MAX_DAILY_SEND_LIMIT = 10_000
CREATE_FIELDS = ("username", "domain", "display_name", "daily_send_limit", "permissions", "labels")
UPDATE_FIELDS = ("display_name", "daily_send_limit", "permissions", "status", "labels")


class Inboxes:
    """Creates, reads and changes inboxes; every rule about them is checked here."""

    def __init__(self, store: Store, clock: Clock, domains: Domains, config: Config) -> None:
        self._store = store
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
            status=None if status is None else validation.choices(status, "status", STATUSES),
            domain=None if domain is None else domain.strip().lower(),
        )
        return self._with_counters(account, rows), total

    def _with_counters(self, account: Account, rows: list[InboxRow]) -> list[InboxWithCounts]:
        day = utc_day(self._clock.now(account.id)) if rows else ""
        counts = inboxes.inbox_counts(self._store, [row["id"] for row in rows], day)
        return [InboxWithCounts(**row, **counts[row["id"]]) for row in rows]

    # -- writes ----------------------------------------------------------------------------
    def create(self, account: Account, body: dict[str, Any]) -> InboxWithCounts:
        """Validate and store a new inbox.

        Raises:
            InvalidRequest: a field is missing, unknown or out of range.
            Conflict: the address is taken.
            Refused: strict domain policy and the domain is not verified.
        """
        validation.check_fields(body, CREATE_FIELDS, required=("username",))
        username = validation.username(body["username"])
        shared = self._config.shared_domain
        domain = shared
        if body.get("domain") is not None:
            domain = validation.domain_name(body["domain"])
        fields = self._checked_fields(body)
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
            display_name=fields.get("display_name"),
            domain=domain,
            status="active",
            permissions=fields.get("permissions", list(PERMISSIONS)),
            daily_send_limit=fields.get("daily_send_limit", DEFAULT_DAILY_SEND_LIMIT),
            labels=fields.get("labels", []),
            created_at=now,
            updated_at=now,
        )
        if not inboxes.insert_inbox(self._store, row):
            raise Conflict(f"address {address} already exists", details={"address": address})
        return self.get(account, row["id"])

    def _checked_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        """The optional inbox fields present in ``body``, validated."""
        fields: dict[str, Any] = {}
        if body.get("display_name") is not None:
            fields["display_name"] = validation.string(body["display_name"], "display_name")
        if "daily_send_limit" in body:
            fields["daily_send_limit"] = validation.integer(
                body["daily_send_limit"], "daily_send_limit", low=1, high=MAX_DAILY_SEND_LIMIT
            )
        if "permissions" in body:
            fields["permissions"] = validation.string_set(
                body["permissions"], "permissions", allowed=PERMISSIONS, allow_empty=False
            )
        if "labels" in body:
            fields["labels"] = validation.string_set(body["labels"], "labels")
        if "status" in body:
            fields["status"] = validation.choices(body["status"], "status", STATUSES)
        return fields

    def update(self, account: Account, inbox_id: str, body: dict[str, Any]) -> InboxWithCounts:
        """Change the fields of :data:`UPDATE_FIELDS` given in ``body``."""
        validation.check_fields(body, UPDATE_FIELDS)
        if "display_name" in body and body["display_name"] is None:
            fields: dict[str, Any] = {"display_name": None}
            fields.update(
                self._checked_fields({k: v for k, v in body.items() if k != "display_name"})
            )
        else:
            fields = self._checked_fields(body)
        if not body:
            raise InvalidRequest(f"nothing to change; send any of {', '.join(UPDATE_FIELDS)}")
        return self._change(account, inbox_id, fields)

    def set_status(self, account: Account, inbox_id: str, status: str) -> InboxWithCounts:
        return self._change(
            account, inbox_id, {"status": validation.choices(status, "status", STATUSES)}
        )

    def _change(self, account: Account, inbox_id: str, fields: dict[str, Any]) -> InboxWithCounts:
        self.row(account, inbox_id)  # NotFound before anything changes
        fields["updated_at"] = format_time(self._clock.now(account.id))
        inboxes.update_inbox(self._store, inbox_id, fields)
        return self.get(account, inbox_id)

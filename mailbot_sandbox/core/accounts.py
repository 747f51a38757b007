"""Accounts: every API key is one. Permissive mode creates an account on a key's first use."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from mailbot_sandbox.core import audit
from mailbot_sandbox.errors import Unauthorized
from mailbot_sandbox.ids import format_time, is_well_formed_key
from mailbot_sandbox.store import Store, accounts, inboxes
from mailbot_sandbox.store.accounts import AccountRow

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def short_id_for(key: str) -> str:
    """Six lowercase alphanumerics derived from the key, used in shared-domain addresses."""
    number = int(hashlib.sha256(b"short:" + key.encode()).hexdigest(), 16)
    chars = []
    for _ in range(6):
        number, digit = divmod(number, 36)
        chars.append(_BASE36[digit])
    return "".join(chars)


@dataclass(frozen=True)
class Account:
    """The caller: ``id`` scopes every query, ``short_id`` appears in shared addresses."""

    id: str
    short_id: str


def stored_accounts(store: Store) -> list[Account]:
    """Every account of the store, oldest first."""
    return [Account(id=row["id"], short_id=row["short_id"]) for row in accounts.all_accounts(store)]


def account_with_id(store: Store, account_id: str) -> Account | None:
    """The account with this id, or None."""
    row = accounts.account_by_id(store, account_id)
    return Account(id=row["id"], short_id=row["short_id"]) if row else None


def owner_of_inbox(store: Store, inbox_id: str) -> Account | None:
    """The account an inbox belongs to, whichever it is, or None when there is no such inbox.
    Only for a reader entitled to see every account (the open web console)."""
    account_id = inboxes.owner_of(store, inbox_id)
    return None if account_id is None else account_with_id(store, account_id)


def stored_account(store: Store, key: str) -> Account | None:
    """The account of an API key in the store, or None when the key was never used."""
    row = accounts.account_by_key_hash(store, key_hash(key))
    return Account(id=row["id"], short_id=row["short_id"]) if row else None


class Accounts:
    """Turns an ``Authorization`` header into an :class:`Account`."""

    def __init__(self, store: Store, api_keys: tuple[str, ...] = ()) -> None:
        self._store = store
        self._allowed = {key_hash(key) for key in api_keys}
        self._cache: dict[str, Account] = {}
        self._lock = threading.Lock()

    def authenticate(self, header: str | None) -> Account:
        """Resolve ``Bearer mb_...``; raises :class:`Unauthorized` naming what is wrong."""
        if not header:
            raise Unauthorized("missing Authorization header; send 'Authorization: Bearer mb_...'")
        scheme, _, key = header.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise Unauthorized("Authorization header must be 'Bearer mb_...'")
        return self.for_key(key)

    def for_key(self, key: str) -> Account:
        """The account of an API key, created on first use in permissive mode."""
        if not is_well_formed_key(key):
            raise Unauthorized("API key must start with 'mb_' followed by letters, digits, - or _")
        hashed = key_hash(key)
        if self._allowed and hashed not in self._allowed:
            raise Unauthorized("unknown API key (the sandbox accepts only its configured keys)")
        account = self._cache.get(hashed)
        if account is None:
            account = self._load_or_create(key, hashed)
            with self._lock:
                self._cache[hashed] = account
        return account

    def _load_or_create(self, key: str, hashed: str) -> Account:
        row = accounts.account_by_key_hash(self._store, hashed)
        if row is None:
            account = Account(id=f"acc_{hashed[:20]}", short_id=short_id_for(key))
            with self._store.write():
                created = accounts.insert_account(
                    self._store,
                    AccountRow(id=account.id, short_id=account.short_id),
                    hashed,
                    format_time(datetime.now(UTC)),
                )
                if created:  # the key's first use, not another process's race
                    audit.record(
                        self._store,
                        account.id,
                        "account.created",
                        "account",
                        account.id,
                        metadata={"short_id": account.short_id},
                    )
            return account
        return Account(id=row["id"], short_id=row["short_id"])

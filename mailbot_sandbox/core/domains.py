"""Custom domains: DNS records to publish, verification, and the auto/strict policy."""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Mapping
from typing import Any, Literal

from mailbot_sandbox.config import Config
from mailbot_sandbox.core import audit
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.core.dns import DnsLookup, ServerLookup, TableLookup, normalize_name
from mailbot_sandbox.core.events import DOMAIN_FIELDS, Events
from mailbot_sandbox.core.policy import may_host_inboxes, refusal
from mailbot_sandbox.errors import Conflict, NotFound
from mailbot_sandbox.ids import format_time, new_id
from mailbot_sandbox.store import Store, domains, inboxes
from mailbot_sandbox.store.domains import DnsRecordRow, DomainRow

DKIM_SELECTOR = "mailbot"
PURPOSES = ("spf", "dkim", "dmarc", "mx")
RecordState = Literal["pass", "fail", "missing"]


def _generate_dkim_key() -> tuple[str, str]:
    """A fresh RSA-2048 key: (private PEM, public key base64 DER for the ``p=`` tag)."""
    # Imported here: cryptography is slow to import, and most sessions make no domain.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, base64.b64encode(public_der).decode()


def _tag_value(record: str, tag: str) -> str | None:
    for part in record.replace('"', "").split(";"):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == tag:
            return re.sub(r"\s+", "", value)
    return None


def record_state(lookup: DnsLookup, record: dict[str, Any]) -> RecordState:
    """Whether DNS publishes ``record`` (one of :meth:`Domains.expected_records`): ``pass``,
    ``fail`` when a record of its kind is there with another value, ``missing`` when none is.

    The one place that reads a published record, for verification and compliance checks
    alike. A DKIM record whose expected ``p=`` is empty (a domain this account never
    registered, so no key is known) passes with any public key.
    """
    purpose, expected = record["purpose"], record["value"]
    if purpose == "mx":
        hosts = [host for _, host in lookup.mx(record["name"])]
        if not hosts:
            return "missing"
        return "pass" if normalize_name(expected) in hosts else "fail"
    found = [t.replace('"', "").strip() for t in lookup.txt(record["name"])]
    if purpose == "spf":
        published = [t for t in found if t.lower().startswith("v=spf1")]
        include = expected.split()[1]
        matches = any(include in t.split() for t in published)
    elif purpose == "dkim":
        published = [t for t in found if _tag_value(t, "p")]
        wanted = _tag_value(expected, "p")
        matches = any(not wanted or _tag_value(t, "p") == wanted for t in published)
    else:
        published = [t for t in found if t.lower().startswith("v=dmarc1")]
        matches = bool(published)
    if not published:
        return "missing"
    return "pass" if matches else "fail"


class Domains:
    """Registers, verifies and deletes an account's custom domains."""

    def __init__(self, store: Store, clock: Clock, config: Config, events: Events) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._config = config

    # -- records ---------------------------------------------------------------------------
    def expected_records(self, row: DomainRow) -> list[dict[str, Any]]:
        """The records a domain asks its owner to publish, each with its check status."""
        domain = row["domain"]
        shared = self._config.shared_domain
        status = row["record_status"]
        records: list[dict[str, Any]] = [
            {
                "purpose": "spf",
                "type": "TXT",
                "name": domain,
                "value": f"v=spf1 include:_spf.{shared} ~all",
                "required": True,
            },
            {
                "purpose": "dkim",
                "type": "TXT",
                "name": f"{row['selector']}._domainkey.{domain}",
                "value": f"v=DKIM1; k=rsa; p={row['dkim_public_key']}",
                "required": True,
            },
            {
                "purpose": "dmarc",
                "type": "TXT",
                "name": f"_dmarc.{domain}",
                "value": f"v=DMARC1; p=none; rua=mailto:dmarc@{domain}",
                "required": True,
            },
            {
                "purpose": "mx",
                "type": "MX",
                "name": domain,
                "value": f"mx.{shared}",
                "priority": 10,
                "required": False,
            },
        ]
        for record in records:
            record["status"] = status.get(record["purpose"], "pending")
        return records

    def _lookup(self, account: Account) -> DnsLookup:
        if self._config.dns_server:
            return ServerLookup(self._config.dns_server)
        return TableLookup(self._store, account.id)

    def check_records(self, account: Account, row: DomainRow) -> dict[str, RecordState]:
        """Each purpose of ``row``'s records as DNS answers now: ``pass``, ``fail`` (a record
        of that kind is published but not the expected one) or ``missing``. Under the auto
        policy every record passes: domains verify there without DNS."""
        records = self.expected_records(row)
        if self._config.domain_policy == "auto":
            return {r["purpose"]: "pass" for r in records}
        lookup = self._lookup(account)
        return {r["purpose"]: record_state(lookup, r) for r in records}

    # -- reads -----------------------------------------------------------------------------
    def get(self, account: Account, domain_id: str) -> DomainRow:
        row = domains.get_domain(self._store, account.id, domain_id)
        if row is None:
            raise NotFound(f"domain {domain_id!r} not found")
        return row

    def find(self, account: Account, domain: str) -> DomainRow | None:
        return domains.find_domain(self._store, account.id, domain)

    def list_page(self, account: Account, page: int, limit: int) -> tuple[list[DomainRow], int]:
        return domains.domain_page(self._store, account.id, limit=limit, offset=(page - 1) * limit)

    # -- writes ----------------------------------------------------------------------------
    def create(self, account: Account, domain: str) -> DomainRow:
        """Register ``domain`` (a checked host name, lowercased) with records to publish.

        Raises:
            Conflict: already registered here, or part of the shared development domain.
        """
        self._refuse_shared(domain)
        if self.find(account, domain):
            raise Conflict(f"domain {domain} is already registered in this account")
        return self._insert(account, domain, verified=False)

    def _refuse_shared(self, domain: str) -> None:
        shared = self._config.shared_domain
        if domain == shared or domain.endswith("." + shared):
            raise Conflict(f"{domain} belongs to the sandbox's shared development domain {shared}")

    def _insert(self, account: Account, domain: str, *, verified: bool) -> DomainRow:
        private_pem, public_b64 = _generate_dkim_key()
        now = format_time(self._clock.now(account.id))
        state = "verified" if verified else "pending"
        row = DomainRow(
            id=new_id("dom"),
            account_id=account.id,
            domain=domain,
            status=state,
            selector=DKIM_SELECTOR,
            dkim_private_key=private_pem,
            dkim_public_key=public_b64,
            record_status={purpose: state for purpose in PURPOSES},
            created_at=now,
            verified_at=now if verified else None,
        )
        with self._store.write():
            if self.find(account, domain):  # lost a race with a concurrent create
                raise Conflict(f"domain {domain} is already registered in this account")
            domains.insert_domain(self._store, row)
            audit.record(
                self._store,
                account.id,
                "domain.created",
                "domain",
                row["id"],
                metadata={"domain": domain, "status": state},
            )
        return row

    def require_for_inbox(self, account: Account, domain: str) -> None:
        """Allow an inbox on ``domain`` under the domain policy, registering it in auto mode.

        Raises:
            Refused: :class:`~mailbot_sandbox.core.policy.DomainNotVerified`, strict policy and
                the domain is not verified in this account.
        """
        if domain == self._config.shared_domain:
            return
        self._refuse_shared(domain)
        row = self.find(account, domain)
        if self._config.domain_policy == "auto":
            if row is None:
                with contextlib.suppress(Conflict):  # registered concurrently: fine
                    self._insert(account, domain, verified=True)
            return
        reason = may_host_inboxes(domain, None if row is None else row["status"])
        if reason is not None:
            raise refusal(reason)

    def verify(self, account: Account, domain_id: str) -> tuple[DomainRow, dict[str, bool]]:
        """Check the domain's records; returns the updated row and each purpose's result."""
        row = self.get(account, domain_id)
        states = self.check_records(account, row)
        results = {purpose: state == "pass" for purpose, state in states.items()}
        required = all(results[p] for p in ("spf", "dkim", "dmarc"))
        status = "verified" if required else "failed"
        now = format_time(self._clock.now(account.id))
        record_status = {p: ("verified" if ok else "failed") for p, ok in results.items()}
        verified_at = (
            row["verified_at"] if row["verified_at"] and required else (now if required else None)
        )
        with self._store.write() as db:
            domains.set_verification(
                self._store,
                domain_id,
                status=status,
                record_status=record_status,
                verified_at=verified_at,
            )
            checked = self.get(account, domain_id)
            if status == "verified" and row["status"] != "verified":
                records = self.expected_records(checked)
                fields: Mapping[str, Any] = checked
                data = {k: records if k == "dns_records" else fields[k] for k in DOMAIN_FIELDS}
                self._events.record(db.conn, "domain.verified", account_id=account.id, data=data)
            audit.record(
                self._store,
                account.id,
                "domain.verified" if required else "domain.verification_failed",
                "domain",
                domain_id,
                metadata={"domain": row["domain"], "records": record_status},
            )
        return checked, results

    def delete(self, account: Account, domain_id: str) -> DomainRow:
        with self._store.write():
            row = self.get(account, domain_id)
            in_use = inboxes.count_active_on_domain(self._store, account.id, row["domain"])
            if in_use:
                raise Conflict(
                    f"domain {row['domain']} is used by {in_use} active inbox(es); "
                    "disable them first",
                    details={"active_inboxes": in_use},
                )
            domains.delete_domain(self._store, domain_id)
            audit.record(
                self._store,
                account.id,
                "domain.deleted",
                "domain",
                domain_id,
                metadata={"domain": row["domain"]},
            )
        return row

    # -- the sandbox's DNS table --------------------------------------------------------------
    def publish_records(self, account: Account, records: list[DnsRecordRow]) -> None:
        """Add records to this account's DNS table (what strict verification reads)."""
        domains.insert_records(
            self._store,
            account.id,
            [{**record, "name": normalize_name(record["name"])} for record in records],
        )

    def published_records(self, account: Account) -> list[DnsRecordRow]:
        return domains.account_records(self._store, account.id)

    def clear_records(self, account: Account) -> int:
        return domains.delete_records(self._store, account.id)

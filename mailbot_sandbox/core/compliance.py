"""What an account may see of its own standing: sends against limits (usage) and whether a
domain is ready to send (SPF, DKIM, DMARC, the domain policy).

Both are reads: nothing here writes, and every rule they report is decided elsewhere (record
checks in :mod:`~mailbot_sandbox.core.domains`, may-send in
:mod:`~mailbot_sandbox.core.policy`), so a report can never disagree with what a send does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from mailbot_sandbox.config import Config
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock, utc_day
from mailbot_sandbox.core.domains import DKIM_SELECTOR, Domains, RecordState
from mailbot_sandbox.core.inboxes import Inboxes
from mailbot_sandbox.core.policy import InboxInactive, may_host_inboxes, may_send
from mailbot_sandbox.ids import format_time
from mailbot_sandbox.store import Store, inboxes
from mailbot_sandbox.store.domains import DomainRow
from mailbot_sandbox.store.inboxes import InboxUsage

# What each passing record adds to the readiness score; a verified domain adds the rest.
SCORE_WEIGHTS = {"spf": 30, "dkim": 30, "dmarc": 20}
VERIFIED_WEIGHT = 100 - sum(SCORE_WEIGHTS.values())
# The sandbox does not read mail to classify it: every check reports this class.
CONTENT_CLASS = "transactional"


@dataclass(frozen=True)
class UsageReport:
    """An account's sends today (by its clock) against each inbox's daily limit."""

    day: str
    resets_at: str
    inboxes: list[InboxUsage]

    @property
    def sends_today(self) -> int:
        return sum(row["sends_today"] for row in self.inboxes)

    @property
    def messages(self) -> int:
        return sum(row["message_count"] for row in self.inboxes)


@dataclass(frozen=True)
class ComplianceReport:
    """A domain's standing: each record's state, a score 0..100 and what blocks sending."""

    domain: str
    spf: RecordState
    dkim: RecordState
    dmarc: RecordState
    readiness_score: int
    blocked_reasons: list[str] = field(default_factory=list)
    content_class: str = CONTENT_CLASS


class Compliance:
    """Usage and domain readiness reports of one account."""

    def __init__(
        self, store: Store, clock: Clock, config: Config, domains: Domains, inboxes: Inboxes
    ) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._domains = domains
        self._inboxes = inboxes

    def usage(self, account: Account) -> UsageReport:
        """Sends today per inbox and in total; the day and its end follow the account clock."""
        now = self._clock.now(account.id)
        rows = inboxes.account_usage(self._store, account.id, utc_day(now))
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        resets_at = format_time(midnight)
        return UsageReport(day=utc_day(now), resets_at=resets_at, inboxes=rows)

    def check(self, account: Account, domain: str) -> ComplianceReport:
        """SPF, DKIM and DMARC of ``domain`` (a checked host name, lowercased) as DNS answers
        now, for this account. The shared development domain is always ready; a domain the
        account never registered is checked against the records it would have to publish,
        any DKIM key accepted. Under the auto policy every domain is ready (as it verifies
        without DNS there); under the strict one an unverified domain is blocked."""
        if domain == self._config.shared_domain:
            return ComplianceReport(domain, "pass", "pass", "pass", 100)
        row = self._domains.find(account, domain)
        states = self._domains.check_records(account, row or self._unregistered(account, domain))
        blocked = [
            f"{purpose}_{states[purpose]}" for purpose in SCORE_WEIGHTS if states[purpose] != "pass"
        ]
        status = None if row is None else row["status"]
        unverified = may_host_inboxes(domain, status) is not None
        if unverified and self._config.domain_policy == "strict":
            blocked.insert(0, "domain_not_verified")
        score = sum(w for purpose, w in SCORE_WEIGHTS.items() if states[purpose] == "pass")
        if not unverified or self._config.domain_policy == "auto":
            score += VERIFIED_WEIGHT
        return ComplianceReport(
            domain, states["spf"], states["dkim"], states["dmarc"], score, blocked
        )

    def readiness(self, account: Account, inbox_id: str) -> tuple[str, ComplianceReport]:
        """The inbox's address and the check of its domain, with why the inbox itself may not
        send (its status or permissions) added to the blocked reasons.

        Raises:
            NotFound: not an inbox of this account.
        """
        inbox = self._inboxes.row(account, inbox_id)
        report = self.check(account, inbox["domain"])
        reason = may_send(inbox)
        if isinstance(reason, InboxInactive):
            report.blocked_reasons.append(f"inbox_{reason.status}")
        elif reason is not None:
            report.blocked_reasons.append("permission_denied")
        return inbox["address"], report

    def _unregistered(self, account: Account, domain: str) -> DomainRow:
        """The records a domain not registered here would be checked against (no key)."""
        return DomainRow(
            id="",
            account_id=account.id,
            domain=domain,
            status="pending",
            selector=DKIM_SELECTOR,
            dkim_private_key="",
            dkim_public_key="",
            record_status={},
            created_at="",
            verified_at=None,
        )

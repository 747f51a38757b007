"""What the web console's overview shows: one card per inbox, each telling its own story.

Every figure of a page of cards comes from a fixed number of indexed queries, however many
inboxes the page holds, so the overview stays fast with hundreds of inboxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock, utc_day
from mailbot_sandbox.store import Store, inboxes
from mailbot_sandbox.store.inboxes import InboxRow

# How many days the send-volume chart of a card covers, today included.
CHART_DAYS = 14


@dataclass(frozen=True)
class InboxCard:
    """One inbox with its counts, today's sends, its outcomes and its recent send volume.

    ``daily_sends`` holds one ``(day, sends)`` pair per day, oldest first, ending today by
    the account's clock.
    """

    inbox: InboxRow
    message_count: int
    thread_count: int
    sends_today: int
    outbound: int
    bounced: int
    complained: int
    daily_sends: list[tuple[str, int]]

    @property
    def bounce_rate(self) -> float:
        """Bounced share of the outbound mail, 0.0 to 1.0."""
        return self.bounced / self.outbound if self.outbound else 0.0

    @property
    def complaint_rate(self) -> float:
        """Share of the outbound mail that drew a complaint, 0.0 to 1.0."""
        return self.complained / self.outbound if self.outbound else 0.0


@dataclass(frozen=True)
class OverviewPage:
    """One page of cards, the total behind the filter, and the domains to filter by."""

    cards: list[InboxCard]
    total: int
    domains: list[str]


class Overview:
    """Builds the cards of the console's overview."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def page(
        self,
        accounts: list[Account] | None,
        *,
        page: int,
        limit: int,
        status: str | None = None,
        domain: str | None = None,
    ) -> OverviewPage:
        """The cards of the inboxes of ``accounts`` (every account when None), grouped by
        account, newest first within one."""
        account_ids = None if accounts is None else [a.id for a in accounts]
        rows, total = inboxes.inbox_listing(
            self._store,
            account_ids,
            limit=limit,
            offset=(page - 1) * limit,
            status=status,
            domain=domain,
        )
        return OverviewPage(
            self.cards(rows), total, inboxes.domains_in_use(self._store, account_ids)
        )

    def cards(self, rows: list[InboxRow]) -> list[InboxCard]:
        """A card for each inbox row, in the same order."""
        ids = [row["id"] for row in rows]
        # Each account has its own clock: "today" is the day on the inbox's account clock.
        today = {
            account_id: date.fromisoformat(utc_day(self._clock.now(account_id)))
            for account_id in {row["account_id"] for row in rows}
        }
        first = min(today.values(), default=date.today()) - timedelta(days=CHART_DAYS - 1)
        counts = inboxes.inbox_counts(self._store, ids, "")
        sends = inboxes.daily_sends(self._store, ids, first.isoformat())
        outcomes = inboxes.outbound_outcomes(self._store, ids)
        cards = []
        for row in rows:
            last = today[row["account_id"]]
            days = [(last - timedelta(days=n)).isoformat() for n in range(CHART_DAYS - 1, -1, -1)]
            per_day = sends[row["id"]]
            cards.append(
                InboxCard(
                    inbox=row,
                    message_count=counts[row["id"]]["message_count"],
                    thread_count=counts[row["id"]]["thread_count"],
                    sends_today=per_day.get(days[-1], 0),
                    daily_sends=[(day, per_day.get(day, 0)) for day in days],
                    **outcomes[row["id"]],
                )
            )
        return cards

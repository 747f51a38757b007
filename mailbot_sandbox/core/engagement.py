"""Engagement: what happened to sent mail (delivered, bounced, complained, opened, clicked),
the tracking that lets a test open and click with a plain GET, the reports on it, and the
reputation rule that suspends an inbox whose mail bounces or draws complaints.

Every engagement event is recorded with :class:`~mailbot_sandbox.core.events.Events` inside
the write transaction that causes it (the send, the tracking hit, the simulation), and a
typed ``engagement`` row beside it feeds the reports.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from mailbot_sandbox.config import Config
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.core.events import Events, message_data
from mailbot_sandbox.core.inboxes import Inboxes
from mailbot_sandbox.errors import InvalidRequest, NotFound
from mailbot_sandbox.ids import format_time
from mailbot_sandbox.mail.tracking import add_tracking
from mailbot_sandbox.store import Store, messages
from mailbot_sandbox.store import engagement as rows
from mailbot_sandbox.store.engagement import EngagementRow, TrackingRow
from mailbot_sandbox.store.messages import MessageRow

# Engagement event names, short (as the API's filters and the control plane take them).
ENGAGEMENT_EVENTS = ("delivered", "opened", "clicked", "bounced", "complained")
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
COUNTED = ("sent", *ENGAGEMENT_EVENTS)
RATES = {
    "delivered": "delivery_rate",
    "opened": "open_rate",
    "clicked": "click_rate",
    "bounced": "bounce_rate",
    "complained": "complaint_rate",
}
# A sent message's status only climbs: a bounce after a delivery is a bounce.
_STATUS_RANK = {"sent": 0, "delivered": 1, "bounced": 2, "complained": 3}


def engagement_event(name: str, field_name: str = "event") -> str:
    """The short name of an engagement event given short (``opened``) or full
    (``message.opened``).

    Raises:
        InvalidRequest: not an engagement event; the message names the allowed ones.
    """
    short = name.removeprefix("message.")
    if short not in ENGAGEMENT_EVENTS:
        raise InvalidRequest(
            f"unknown engagement event {name!r}; allowed: {', '.join(ENGAGEMENT_EVENTS)}",
            field=field_name,
        )
    return short


@dataclass
class Tracked:
    """A message's HTML as its recipients get it, and the tokens it carries (kept with the
    message once its id exists)."""

    html: str | None
    tokens: list[tuple[str, str, str | None]] = field(default_factory=list)  # token, kind, url


@dataclass(frozen=True)
class Stats:
    """Counts of one inbox (or the whole account, ``inbox_id`` None) over a period."""

    inbox_id: str | None
    counts: dict[str, int]

    def rates(self) -> dict[str, float]:
        """Shares of the messages sent (0 when none was), rounded to 4 places."""
        sent = self.counts["sent"]
        return {
            rate: round(min(self.counts[name] / sent, 1.0), 4) if sent else 0.0
            for name, rate in RATES.items()
        }


class Engagement:
    """Records engagement events, serves tracking hits, reports, and judges reputation."""

    def __init__(
        self, store: Store, clock: Clock, config: Config, events: Events, inboxes: Inboxes
    ) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._events = events
        self._inboxes = inboxes
        # The root of tracking URLs; the running sandbox sets it once its port is known.
        self.public_url = config.public_url or f"http://{config.host}:{config.port}"

    # -- tracking ------------------------------------------------------------------------------
    def track(self, html: str | None, *, opens: bool, clicks: bool) -> Tracked:
        """The HTML recipients get when a send asks for tracking: every http(s) link sent
        through the sandbox (clicks) and an invisible pixel (opens). Tokens are random,
        128 bits each, so a URL of one message gives no way to another's."""
        if html is None or not (opens or clicks):
            return Tracked(html)
        tracked = Tracked(html)

        def link(url: str) -> str:
            token = secrets.token_urlsafe(16)
            tracked.tokens.append((token, "click", url))
            return f"{self.public_url}/t/c/{token}"

        pixel = None
        if opens:
            token = secrets.token_urlsafe(16)
            tracked.tokens.append((token, "open", None))
            pixel = f"{self.public_url}/t/o/{token}.gif"
        tracked.html = add_tracking(html, pixel_url=pixel, link_url=link if clicks else None)
        return tracked

    @staticmethod
    def keep_tokens(conn: sqlite3.Connection, sent: MessageRow, tracked: Tracked) -> None:
        """Tie a tracked message's tokens to its stored sender's copy (same transaction)."""
        if tracked.tokens:
            rows.insert_tokens(
                conn,
                [
                    TrackingRow(
                        token=token,
                        account_id=sent["account_id"],
                        inbox_id=sent["inbox_id"],
                        message_id=sent["id"],
                        kind=kind,
                        url=url,
                    )
                    for token, kind, url in tracked.tokens
                ],
            )

    def hit(self, token: str, kind: str, *, count: bool = True) -> str | None:
        """A recipient opened (``open``) or clicked (``click``) a tracked message: record
        ``message.opened`` / ``message.clicked`` (unless ``count`` is false: a look without
        an open); a click's original URL.

        Raises:
            NotFound: no tracked message has that token (or its message was erased).
        """
        with self._store.write() as db:
            found = rows.find_token(self._store, token)
            message = None
            if found is not None and found["kind"] == kind:
                message = messages.get_message(
                    self._store, found["account_id"], found["message_id"]
                )
            if found is None or message is None:
                raise NotFound("no tracked message has this link")
            if count:
                name = "opened" if kind == "open" else "clicked"
                self.record(db.conn, name, message, found["url"])
        return found["url"]

    # -- recording -----------------------------------------------------------------------------
    def record(
        self, conn: sqlite3.Connection, name: str, message: MessageRow, url: str | None = None
    ) -> None:
        """Record ``message.<name>`` about ``message`` inside the caller's transaction (and
        judge the inbox's reputation after a bounce or a complaint)."""
        listed = (
            messages.attachments_of(self._store, [message["seq"]])
            if message["has_attachments"]
            else {}
        )
        data: dict[str, Any] = message_data(message, listed.get(message["seq"], []))
        if url is not None:
            data["url"] = url
        event = self._events.record(
            conn,
            f"message.{name}",
            account_id=message["account_id"],
            inbox_id=message["inbox_id"],
            message_id=message["id"],
            thread_id=message["thread_id"],
            data=data,
        )
        rows.insert_engagement(
            conn,
            {
                "event_id": event["id"],
                "account_id": message["account_id"],
                "inbox_id": message["inbox_id"],
                "message_id": message["id"],
                "thread_id": message["thread_id"],
                "type": name,
                "url": url,
                "created_at": event["created_at"],
            },
        )
        if name in ("bounced", "complained"):
            self._judge(message["account_id"], message["inbox_id"])

    def record_outcomes(
        self, conn: sqlite3.Connection, sent: MessageRow, outcomes: list[str]
    ) -> None:
        """Record one event per recipient outcome (delivered, bounced, complained) of a
        message being sent, inside the transaction that sends it."""
        for outcome in outcomes:
            self.record(conn, outcome, sent)

    def simulate(
        self, account: Account, message_id: str, name: str, url: str | None = None
    ) -> MessageRow:
        """Make ``name`` happen to a message of ``account``, as the hosted side would report
        it; the message as it is now.

        Raises:
            InvalidRequest: ``name`` is no engagement event.
            NotFound: the account has no such message.
        """
        name = engagement_event(name)
        with self._store.write() as db:
            message = messages.get_message(self._store, account.id, message_id)
            if message is None:
                raise NotFound(f"message {message_id!r} not found")
            rank = _STATUS_RANK.get(name, -1)
            if message["direction"] == "outbound" and rank > _STATUS_RANK[message["status"]]:
                messages.set_status(db.conn, message_id, name)
                message["status"] = name
            self.record(db.conn, name, message, url if name == "clicked" else None)
        return message

    # -- reputation ----------------------------------------------------------------------------
    def _judge(self, account_id: str, inbox_id: str) -> None:
        """Suspend the inbox, alone, when its bounces or complaints over the window pass the
        configured shares of its sends (once it sent the minimum volume)."""
        config = self._config
        since = self._clock.now(account_id) - timedelta(days=config.reputation_window_days)
        counts = rows.counts_since(self._store, account_id, format_time(since), inbox_id)
        mine = counts.get(inbox_id, {})
        sent = mine.get("sent", 0)
        if sent < config.reputation_min_sends:
            return
        reason = None
        for name, limit in (
            ("bounced", config.reputation_bounce_rate),
            ("complained", config.reputation_complaint_rate),
        ):
            share = mine.get(name, 0) / sent
            if share > limit:
                what = "bounce" if name == "bounced" else "complaint"
                reason = (
                    f"{what} rate {share:.1%} over the last {config.reputation_window_days} days "
                    f"({mine.get(name, 0)} of {sent} sent) passed {limit:.1%}"
                )
                break
        account = Account(id=account_id, short_id="")
        if reason is None or self._inboxes.row(account, inbox_id)["status"] != "active":
            return
        self._inboxes.set_status(account, inbox_id, "suspended", reason=reason)

    # -- reports -------------------------------------------------------------------------------
    def events_page(
        self,
        account: Account,
        *,
        page: int,
        limit: int,
        inbox_id: str | None = None,
        event: str | None = None,
    ) -> tuple[list[EngagementRow], int]:
        """The account's engagement events, newest first (one inbox's, one kind's)."""
        name = engagement_event(event) if event else None
        if inbox_id is not None:
            self._inboxes.row(account, inbox_id)
        return rows.engagement_page(
            self._store,
            account.id,
            limit=limit,
            offset=(page - 1) * limit,
            inbox_id=inbox_id,
            type=name,
        )

    def stats(
        self, account: Account, period: str, inbox_id: str | None = None
    ) -> tuple[str, str, Stats, list[Stats]]:
        """From when to when (the account's clock), the totals, and each inbox's counts."""
        if inbox_id is not None:
            self._inboxes.row(account, inbox_id)
        now = self._clock.now(account.id)
        since = format_time(now - PERIODS[period])
        counts = rows.counts_since(self._store, account.id, since, inbox_id)
        per_inbox = [
            Stats(inbox, {name: found.get(name, 0) for name in COUNTED})
            for inbox, found in sorted(counts.items())
        ]
        totals = {name: sum(s.counts[name] for s in per_inbox) for name in COUNTED}
        return since, format_time(now), Stats(inbox_id, totals), per_inbox

    def timeline(self, account: Account, message_id: str) -> tuple[MessageRow, list[EngagementRow]]:
        """A message of the account and its engagement events, oldest first.

        Raises:
            NotFound: the account has no such message.
        """
        message = messages.get_message(self._store, account.id, message_id)
        if message is None:
            raise NotFound(f"message {message_id!r} not found")
        return message, rows.message_engagement(self._store, message_id)

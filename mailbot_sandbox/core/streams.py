"""Live streams: who may follow which events, and from where.

A stream follows an account's events (all of them, or one inbox's), optionally only some
types, from a *position* in the event log: the newest event when it opens, or the event a
client saw last when it resumes. Delivering them is the server's business
(``runtime/streams.py``); this module only decides what a subscription is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.events import TEST_EVENT, Events, event_type
from mailbot_sandbox.core.inboxes import Inboxes
from mailbot_sandbox.errors import InvalidRequest
from mailbot_sandbox.ids import id_pattern
from mailbot_sandbox.store.events import EventRow

# What new_id("evt") makes: a resume point that is not one is a mistake worth naming.
_EVENT_ID = re.compile(id_pattern("evt"))


@dataclass(frozen=True)
class Subscription:
    """One stream's filter and the position its first event follows."""

    account_id: str
    position: int
    inbox_id: str | None = None
    types: frozenset[str] | None = None  # None: every type

    def matches(self, event: EventRow) -> bool:
        """Whether this stream shows ``event`` (an event of its account)."""
        return (
            event["type"] != TEST_EVENT  # a webhook's own test, for that webhook only
            and (self.inbox_id is None or event["inbox_id"] == self.inbox_id)
            and (self.types is None or event["type"] in self.types)
        )


class Streams:
    """Opens subscriptions for an account's callers."""

    def __init__(self, inboxes: Inboxes, events: Events) -> None:
        self._inboxes = inboxes
        self._events = events

    def subscribe(
        self,
        account: Account,
        *,
        inbox_id: str | None = None,
        events: list[str] | None = None,
        last_event_id: str | None = None,
    ) -> Subscription:
        """A subscription to the account's events (of ``inbox_id`` alone when given; of the
        ``events`` types, full or short names, when given), starting after ``last_event_id``
        when given, else after the newest event now.

        Raises:
            NotFound: ``inbox_id`` is not one of the account's inboxes.
            InvalidRequest: an unknown event name, or a ``last_event_id`` that is no event id.
        """
        if inbox_id is not None:
            self._inboxes.row(account, inbox_id)
        types = None
        if events:
            types = frozenset(event_type(name) for name in events)
        if last_event_id is None:
            position = self._events.last_position()
        elif _EVENT_ID.match(last_event_id):
            position = self._events.position_after(account.id, last_event_id)
        else:
            raise InvalidRequest(
                f"last_event_id {last_event_id!r} is not an event id (evt_...)",
                field="last_event_id",
            )
        return Subscription(account.id, position, inbox_id, types)

"""Events: what happened to an account's messages, inboxes and domains, recorded inside the
write transaction that made it happen, so nothing is announced that did not commit.

An event's ``data`` is the object as the API shows it, serialized to JSON once here; webhook
deliveries (queued by the dispatcher once the event committed) send that text as it is.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.errors import InvalidRequest
from mailbot_sandbox.ids import format_time, new_id
from mailbot_sandbox.store import Store
from mailbot_sandbox.store import events as stored
from mailbot_sandbox.store.events import EventRow, insert_event
from mailbot_sandbox.store.webhooks import has_webhooks

# The types a webhook can subscribe to, and the short names that mean them.
EVENT_TYPES = (
    "message.received",
    "message.sent",
    "message.delivered",
    "message.bounced",
    "message.complained",
    "message.opened",
    "message.clicked",
    "inbox.updated",
    "domain.verified",
)
SHORT_NAMES = {name.partition(".")[2]: name for name in EVENT_TYPES}
TEST_EVENT = "webhook.test"  # sent to a new webhook only, whatever it subscribed to

# The keys of each object in the order the API writes them (api/objects.py declares them).
MESSAGE_FIELDS = (
    "id",
    "inbox_id",
    "thread_id",
    "message_id_header",
    "from_address",
    "from_name",
    "to_addresses",
    "cc_addresses",
    "reply_to",
    "subject",
    "body_text",
    "body_html",
    "direction",
    "status",
    "in_reply_to",
    "references",
    "labels",
    "attachments",
    "size",
    "created_at",
    "headers",
)
INBOX_FIELDS = (
    "id",
    "account_id",
    "address",
    "username",
    "display_name",
    "domain",
    "status",
    "permissions",
    "daily_send_limit",
    "sends_today",
    "created_at",
    "updated_at",
    "labels",
    "message_count",
    "thread_count",
)
DOMAIN_FIELDS = ("id", "account_id", "domain", "status", "dns_records", "created_at", "verified_at")

_encode = json.JSONEncoder(separators=(",", ":")).encode


def event_type(name: str) -> str:
    """The full type a subscription name means (``delivered`` is ``message.delivered``).

    Raises:
        InvalidRequest: no event has that name; the message names it and the known ones.
    """
    full = SHORT_NAMES.get(name, name)
    if full not in EVENT_TYPES:
        raise InvalidRequest(
            f"unknown event {name!r}; known events: {', '.join(EVENT_TYPES)}", field="events"
        )
    return full


def wire_payload(row: EventRow) -> str:
    """An event as a webhook delivery carries it and a live stream sends it: both naming
    styles receivers use, with ``data`` spliced in as recorded (serialized once)."""
    head = _encode(
        {
            "id": row["id"],
            "event_id": row["id"],
            "type": row["type"],
            "event": row["type"],
            "event_type": row["type"],
            "created_at": row["created_at"],
            "inbox_id": row["inbox_id"],
            "message_id": row["message_id"],
            "thread_id": row["thread_id"],
        }
    )
    return f'{head[:-1]},"data":{row["data"]}}}'


def message_data(
    row: Mapping[str, Any], attachments: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A message as the API shows it (``bcc_addresses`` on the sender's copy only)."""
    data = {key: attachments if key == "attachments" else row[key] for key in MESSAGE_FIELDS}
    if row["direction"] == "outbound":
        data["bcc_addresses"] = row["bcc_addresses"]
    return data


class Events:
    """Records events; ``on_recorded`` hooks run after a recording transaction commits whose
    events have webhooks to go to (the webhook dispatcher listens there)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._listeners: list[Callable[[], None]] = []
        # Told after every commit that recorded events (live streams), while any watches:
        # replaced, never changed in place, so record() reads it without the lock.
        self._watchers: tuple[Callable[[], None], ...] = ()
        self._lock = threading.Lock()

    def on_recorded(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (no arguments, quickly) after each commit that recorded events
        for an account with webhooks, or queued deliveries."""
        with self._lock:
            self._listeners.append(listener)

    def record(
        self,
        conn: sqlite3.Connection,
        type: str,
        *,
        account_id: str,
        data: Mapping[str, Any],
        inbox_id: str | None = None,
        message_id: str | None = None,
        thread_id: str | None = None,
        created_at: str | None = None,
    ) -> EventRow:
        """Record one event inside the caller's write transaction; the stored row.
        ``created_at`` defaults to now on the account's clock."""
        row = EventRow(
            id=new_id("evt"),
            account_id=account_id,
            inbox_id=inbox_id,
            type=type,
            message_id=message_id,
            thread_id=thread_id,
            data=_encode(data),
            created_at=created_at or format_time(self._clock.now(account_id)),
        )
        insert_event(conn, row)
        # The dispatcher fans the event out to its webhooks after the commit. Most mail (no
        # webhooks on the account) need not wake it; its rounds pass such events over.
        if has_webhooks(conn, account_id):
            self.queued()
        if self._watchers:
            self._store.after_commit(self._tell_watchers)
        return row

    def watch(self, watcher: Callable[[], None]) -> None:
        """Call ``watcher`` (no arguments, quickly) after each commit that recorded any event,
        until :meth:`unwatch`. Nothing is spent on this while nobody watches."""
        with self._lock:
            self._watchers = (*self._watchers, watcher)

    def unwatch(self, watcher: Callable[[], None]) -> None:
        with self._lock:
            self._watchers = tuple(w for w in self._watchers if w is not watcher)

    def _tell_watchers(self) -> None:
        for watcher in self._watchers:
            watcher()

    def queued(self) -> None:
        """Tell the listeners, once the open transaction commits, that deliveries may be
        waiting (the store queues them as events are recorded)."""
        if self._listeners:
            self._store.after_commit(self._tell)

    def message(
        self,
        conn: sqlite3.Connection,
        type: str,
        row: Mapping[str, Any],
        attachments: Sequence[Mapping[str, Any]],
    ) -> EventRow:
        """Record a ``message.*`` event about one stored copy."""
        return self.record(
            conn,
            type,
            account_id=row["account_id"],
            inbox_id=row["inbox_id"],
            message_id=row["id"],
            thread_id=row["thread_id"],
            data=message_data(row, attachments),
            created_at=row["created_at"],  # the message's own time: no second clock read
        )

    def _tell(self) -> None:
        for listener in self._listeners:
            listener()

    # -- reading in order, for live streams ---------------------------------------------------
    def after(
        self, position: int, *, limit: int, account_id: str | None = None
    ) -> list[tuple[int, EventRow]]:
        """Committed events after ``position`` (of one account, or of all), oldest first,
        each with its position."""
        return stored.events_after(self._store, position, limit=limit, account_id=account_id)

    def last_position(self) -> int:
        """The position of the newest event (0 when there is none)."""
        return stored.last_position(self._store)

    def position_after(self, account_id: str, event_id: str) -> int:
        """Where the account's events after ``event_id`` begin (see
        :func:`~mailbot_sandbox.store.events.position_after`)."""
        return stored.position_after(self._store, account_id, event_id)

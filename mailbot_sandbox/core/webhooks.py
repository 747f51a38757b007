"""Webhooks: who hears an account's events, the event log, and replays.

Creating a webhook queues a ``webhook.test`` event for it alone; every later event is queued
for the webhooks subscribed to it by the store, in the transaction that records the event.
The dispatcher (``runtime/webhooks.py``) makes the HTTP requests.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from mailbot_sandbox.core import audit
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.core.events import TEST_EVENT, Events, event_type
from mailbot_sandbox.core.inboxes import Inboxes
from mailbot_sandbox.errors import InvalidRequest, NotFound
from mailbot_sandbox.ids import format_time, new_id
from mailbot_sandbox.store import Store, events, webhooks
from mailbot_sandbox.store.events import EventRow
from mailbot_sandbox.store.webhooks import AttemptRow, DeliveryRow, WebhookRow


@dataclass(frozen=True, kw_only=True)
class NewWebhook:
    """A webhook to create: ``events`` as given (full or short names)."""

    url: str
    events: list[str]
    inbox_id: str | None = None


def check_url(url: str, field: str = "url") -> str:
    """``url`` when it is an absolute http(s) URL with a host; ``field`` names it in errors.

    Raises:
        InvalidRequest: it is not one; the message says why.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise InvalidRequest(f"{field} {url!r} is malformed: {exc}", field=field) from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c in url for c in " \r\n")
    ):
        raise InvalidRequest(
            f"{field} {url!r} must be an absolute http:// or https:// URL", field=field
        )
    return url


class Webhooks:
    """Creates, lists and deletes webhooks; reads the event log and delivery attempts."""

    def __init__(self, store: Store, clock: Clock, inboxes: Inboxes, events: Events) -> None:
        self._store = store
        self._clock = clock
        self._inboxes = inboxes
        self._events = events

    def create(self, account: Account, new: NewWebhook) -> WebhookRow:
        """Store a webhook and queue its test event.

        Raises:
            InvalidRequest: malformed URL, no events, or an unknown event name.
            NotFound: ``inbox_id`` is not one of this account's inboxes.
        """
        url = check_url(new.url)
        if not new.events:
            raise InvalidRequest("events must name at least one event", field="events")
        types = list(dict.fromkeys(event_type(name) for name in new.events))
        if new.inbox_id is not None:
            self._inboxes.row(account, new.inbox_id)
        row = WebhookRow(
            id=new_id("whk"),
            account_id=account.id,
            url=url,
            events=types,
            inbox_id=new.inbox_id,
            secret=f"whsec_{secrets.token_hex(24)}",
            active=True,
            created_at=format_time(self._clock.now(account.id)),
        )
        with self._store.write() as db:
            webhooks.insert_webhook(db.conn, row)
            # Recorded after the insert on purpose: a test event is for this webhook only,
            # and no webhook subscribes to its type, so the store queues nothing for it.
            test = self._events.record(
                db.conn,
                TEST_EVENT,
                account_id=account.id,
                inbox_id=new.inbox_id,
                data={"webhook_id": row["id"], "url": url, "events": types},
            )
            self._queue(db.conn, row, test, url)
            self._events.queued()
            self._audit(row, "webhook.created")
        return row

    def all(self, account: Account) -> list[WebhookRow]:
        return webhooks.account_webhooks(self._store, account.id)

    def get(self, account: Account, webhook_id: str) -> WebhookRow:
        row = webhooks.get_webhook(self._store, account.id, webhook_id)
        if row is None:
            raise NotFound(f"webhook {webhook_id!r} not found")
        return row

    def delete(self, account: Account, webhook_id: str) -> WebhookRow:
        """Remove a webhook; deliveries still pending for it are dropped."""
        with self._store.write() as db:
            row = self.get(account, webhook_id)
            webhooks.delete_webhook(db.conn, webhook_id)
            self._audit(row, "webhook.deleted")
        return row

    def _audit(self, hook: WebhookRow, action: str) -> None:
        # The secret stays out of the log: whoever reads the log may not sign deliveries.
        audit.record(
            self._store,
            hook["account_id"],
            action,
            "webhook",
            hook["id"],
            inbox_id=hook["inbox_id"],
            metadata={"url": hook["url"], "events": hook["events"]},
        )

    def deliveries(
        self, account: Account, webhook_id: str, *, page: int, limit: int
    ) -> tuple[list[DeliveryRow], dict[str, list[AttemptRow]], int]:
        """A webhook's deliveries (newest first) with every attempt, and how many there are."""
        self.get(account, webhook_id)
        return webhooks.delivery_page(
            self._store, webhook_id, limit=limit, offset=(page - 1) * limit
        )

    # -- the event log -----------------------------------------------------------------------
    def event(self, account: Account, event_id: str) -> EventRow:
        row = events.get_event(self._store, account.id, event_id)
        if row is None:
            raise NotFound(f"event {event_id!r} not found")
        return row

    def event_page(
        self,
        account: Account,
        *,
        page: int,
        limit: int,
        inbox_id: str | None = None,
        type: str | None = None,
    ) -> tuple[list[EventRow], int]:
        """An account's events, newest first (of ``inbox_id`` alone, of ``type`` alone).

        Raises:
            NotFound: ``inbox_id`` is not one of the account's inboxes.
        """
        if inbox_id is not None:
            self._inboxes.row(account, inbox_id)  # as a stream of that inbox would answer
        full = None if type is None or type == TEST_EVENT else event_type(type)
        full = full or type
        return events.event_page(
            self._store,
            account.id,
            limit=limit,
            offset=(page - 1) * limit,
            inbox_id=inbox_id,
            type=full,
        )

    def replay(self, account: Account, event_id: str, target_url: str | None = None) -> list[str]:
        """Queue an event again for every webhook that hears it now (to ``target_url``
        instead of their own URL when given); the ids of the deliveries queued.

        Raises:
            NotFound: the event is not this account's.
            InvalidRequest: ``target_url`` is malformed.
        """
        url = None if target_url is None else check_url(target_url, field="target_url")
        event = self.event(account, event_id)
        queued = []
        with self._store.write() as db:
            for hook in webhooks.subscribers(
                self._store, account.id, event["inbox_id"], event["type"]
            ):
                queued.append(self._queue(db.conn, hook, event, url or hook["url"]))
            self._events.queued()
        return queued

    def _queue(self, conn: sqlite3.Connection, hook: WebhookRow, event: EventRow, url: str) -> str:
        delivery_id = new_id("dlv")
        webhooks.queue_delivery(
            conn,
            delivery_id,
            webhook_id=hook["id"],
            event_id=event["id"],
            url=url,
            due=time.time(),
            created_at=format_time(self._clock.now(hook["account_id"])),
        )
        return delivery_id

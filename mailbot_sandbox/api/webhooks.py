"""``/v1/webhooks`` and ``/v1/events``: subscriptions, their delivery log, the event log and
replays."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from flask import Blueprint, Response

from mailbot_sandbox.api.bodies import InboxWebhookBody, NewWebhookBody, ReplayBody
from mailbot_sandbox.api.common import account, listing, services, single
from mailbot_sandbox.api.objects import Out, Time
from mailbot_sandbox.api.queries import EventQuery, PageQuery
from mailbot_sandbox.api.routes import route
from mailbot_sandbox.ids import format_time

bp = Blueprint("webhooks", __name__)


# -- the shapes answered here, and the one function writing each ----------------------------------
class Webhook(Out):
    id: str
    account_id: str
    url: str
    events: list[str]
    inbox_id: str | None
    secret: str
    active: bool
    created_at: Time


class Attempt(Out):
    attempt: int
    status_code: int | None
    latency_ms: float
    error: str | None
    next_attempt_at: Time | None
    created_at: Time


class WebhookDelivery(Out):
    id: str
    webhook_id: str
    event_id: str
    url: str
    status: Literal["pending", "succeeded", "failed"]
    attempt_count: int
    next_attempt_at: Time | None
    created_at: Time
    attempts: list[Attempt]


class Event(Out):
    id: str
    account_id: str
    inbox_id: str | None
    type: str
    message_id: str | None
    thread_id: str | None
    data: dict[str, Any]
    created_at: Time


class Replayed(Out):
    event_id: str
    deliveries: list[str]


_WEBHOOK_KEYS = tuple(Webhook.model_fields)
_ATTEMPT_KEYS = tuple(Attempt.model_fields)


def webhook_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A :class:`Webhook`."""
    return {key: row[key] for key in _WEBHOOK_KEYS}


def delivery_json(row: Mapping[str, Any], attempts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A :class:`WebhookDelivery` with its attempts, oldest first."""
    due = row["next_attempt_at"]
    return {
        "id": row["id"],
        "webhook_id": row["webhook_id"],
        "event_id": row["event_id"],
        "url": row["url"],
        "status": row["status"],
        "attempt_count": row["attempts"],
        "next_attempt_at": None if due is None else format_time(datetime.fromtimestamp(due, UTC)),
        "created_at": row["created_at"],
        "attempts": [{key: a[key] for key in _ATTEMPT_KEYS} for a in attempts],
    }


def event_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """An :class:`Event`; its data is stored as JSON text."""
    return {**row, "data": json.loads(row["data"])}


# -- routes -------------------------------------------------------------------------------------


@route(
    bp,
    "POST",
    "/webhooks",
    "Create a webhook",
    body=NewWebhookBody,
    response=Webhook,
    status=201,
    errors=(404,),  # the inbox_id given is not one of the account's inboxes
)
def create_webhook(body: NewWebhookBody) -> Response:
    """Queues a ``webhook.test`` event for the new webhook."""
    return single(webhook_json(services().webhooks.create(account(), body.to_core())), 201)


@route(
    bp,
    "POST",
    "/inboxes/<inbox_id>/webhooks",
    "Create a webhook for one inbox's events",
    body=InboxWebhookBody,
    response=Webhook,
    status=201,
)
def create_inbox_webhook(inbox_id: str, body: InboxWebhookBody) -> Response:
    return single(webhook_json(services().webhooks.create(account(), body.to_core(inbox_id))), 201)


@route(bp, "GET", "/webhooks", "List webhooks", response=Webhook, envelope="all")
def list_webhooks() -> Response:
    return single([webhook_json(r) for r in services().webhooks.all(account())])


@route(bp, "GET", "/webhooks/<webhook_id>", "Get a webhook", response=Webhook)
def get_webhook(webhook_id: str) -> Response:
    return single(webhook_json(services().webhooks.get(account(), webhook_id)))


@route(bp, "DELETE", "/webhooks/<webhook_id>", "Delete a webhook", response=Webhook)
def delete_webhook(webhook_id: str) -> Response:
    """Deliveries still pending for it are dropped."""
    return single(webhook_json(services().webhooks.delete(account(), webhook_id)))


@route(
    bp,
    "GET",
    "/webhooks/<webhook_id>/deliveries",
    "A webhook's deliveries with every attempt",
    query=PageQuery,
    response=WebhookDelivery,
    envelope="list",
)
def list_deliveries(webhook_id: str, query: PageQuery) -> Response:
    rows, attempts, total = services().webhooks.deliveries(
        account(), webhook_id, page=query.page, limit=query.limit
    )
    items = [delivery_json(r, attempts[r["id"]]) for r in rows]
    return listing(items, total, query.page, query.limit)


@route(
    bp,
    "GET",
    "/events",
    "List events, newest first",
    query=EventQuery,
    response=Event,
    envelope="list",
    errors=(404,),  # inbox_id names no inbox of the account
)
def list_events(query: EventQuery) -> Response:
    rows, total = services().webhooks.event_page(
        account(), page=query.page, limit=query.limit, inbox_id=query.inbox_id, type=query.type
    )
    return listing([event_json(r) for r in rows], total, query.page, query.limit)


@route(bp, "GET", "/events/<event_id>", "Get an event", response=Event)
def get_event(event_id: str) -> Response:
    return single(event_json(services().webhooks.event(account(), event_id)))


@route(
    bp,
    "POST",
    "/events/<event_id>/replay",
    "Deliver an event again",
    body=ReplayBody,
    response=Replayed,
    status=202,
)
def replay_event(event_id: str, body: ReplayBody) -> Response:
    """Queues the event for every webhook that hears it now, at ``target_url`` if given."""
    queued = services().webhooks.replay(account(), event_id, body.target_url)
    return single({"event_id": event_id, "deliveries": queued}, 202)

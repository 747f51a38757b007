"""Live streams: an inbox's or the whole account's events as Server-Sent Events.

A stream is long-lived, like a wait, but unlike a wait it must not hold a request thread:
the view checks the request, answers the response head, and then hands the connection to
the server's stream hub (``runtime/streams.py``) through :data:`HAND_OVER` in the WSGI
environment. Under a WSGI server without that hook, the response body follows the events
itself, on the thread serving the request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Annotated

from flask import Blueprint, Response, request
from pydantic import Field

from mailbot_sandbox.api.common import account, services
from mailbot_sandbox.api.objects import Out
from mailbot_sandbox.api.queries import RealtimeQuery, StreamQuery
from mailbot_sandbox.api.routes import route
from mailbot_sandbox.core.events import EVENT_TYPES, EventRow, Events, wire_payload
from mailbot_sandbox.core.streams import Subscription
from mailbot_sandbox.ids import id_pattern

bp = Blueprint("streams", __name__)

# The WSGI environment key of ``hand_over(subscription)``, set by the sandbox's HTTP server:
# called after the response head went out, it takes the connection from the request thread.
HAND_OVER = "mailbot.stream.hand_over"
CONTENT_TYPE = "text/event-stream"
# The first bytes of every stream: how long a client waits before it reconnects (ms).
OPENING = b"retry: 1000\n\n"
HEARTBEAT = b": ping\n\n"
FALLBACK_POLL_SECONDS = 0.25  # how often a stream without the hub looks for new events
PAGE = 500

HandOver = Callable[[Subscription], None]


class StreamEvent(Out):
    """One event of a live stream: the fields of a Server-Sent Event. The opening ``retry:``
    line and the ``: ping`` heartbeats are not events."""

    id: Annotated[str, Field(pattern=id_pattern("evt"))]
    event: Annotated[str, Field(json_schema_extra={"enum": list(EVENT_TYPES)})]
    data: Annotated[
        str,
        Field(
            description="the event as a webhook delivery carries it, as JSON",
            json_schema_extra={"contentMediaType": "application/json"},
        ),
    ]


def frame(event: EventRow) -> bytes:
    """One event as a Server-Sent Event: its id, its type and the webhook payload."""
    return f"id: {event['id']}\nevent: {event['type']}\ndata: {wire_payload(event)}\n\n".encode()


@route(
    bp,
    "GET",
    "/inboxes/<inbox_id>/stream",
    "Follow one inbox's events (Server-Sent Events)",
    query=StreamQuery,
    response=StreamEvent,
    envelope="bytes",
    content_type=CONTENT_TYPE,
)
def inbox_stream(inbox_id: str, query: StreamQuery) -> Response:
    subscription = services().streams.subscribe(
        account(),
        inbox_id=inbox_id,
        events=query.event_names(),
        last_event_id=_last_event_id(query),
    )
    return event_stream(subscription)


@route(
    bp,
    "GET",
    "/realtime/stream",
    "Follow the account's events (Server-Sent Events)",
    query=RealtimeQuery,
    response=StreamEvent,
    envelope="bytes",
    content_type=CONTENT_TYPE,
    errors=(404,),
)
def realtime_stream(query: RealtimeQuery) -> Response:
    subscription = services().streams.subscribe(
        account(),
        inbox_id=query.inbox_id,
        events=query.event_names(),
        last_event_id=_last_event_id(query),
    )
    return event_stream(subscription)


def _last_event_id(query: StreamQuery) -> str | None:
    """The header a reconnecting EventSource sends wins over the query parameter the first
    connection was opened with."""
    return request.headers.get("Last-Event-ID", "").strip() or query.last_event_id


def event_stream(subscription: Subscription) -> Response:
    """The response that follows ``subscription``: its head and opening bytes from this
    request, then the connection goes to the stream hub (the web console's pages use it too)."""
    hand_over: HandOver | None = request.environ.get(HAND_OVER)
    events = services().events
    heartbeat = services().config.stream_heartbeat

    def body() -> Iterator[bytes]:
        yield OPENING  # the head and these bytes are on their way when the next line runs
        if hand_over is not None:
            hand_over(subscription)
            return
        yield from follow(events, subscription, heartbeat)

    response = Response(body(), mimetype=CONTENT_TYPE)
    # No cache, and no buffering by a proxy in front (nginx reads X-Accel-Buffering).
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def follow(events: Events, subscription: Subscription, heartbeat: float) -> Iterator[bytes]:
    """A stream served by the thread of its request, for WSGI servers that cannot hand the
    connection over: it looks for new events a few times a second and ends when the client
    goes (the server then closes this generator)."""
    position = subscription.position
    quiet_since = time.monotonic()
    while True:
        found = events.after(position, limit=PAGE, account_id=subscription.account_id)
        for _, event in found:
            if subscription.matches(event):
                quiet_since = time.monotonic()
                yield frame(event)
        if found:
            position = found[-1][0]
        if len(found) == PAGE:
            continue
        if time.monotonic() - quiet_since >= heartbeat:
            quiet_since = time.monotonic()
            yield HEARTBEAT
        time.sleep(FALLBACK_POLL_SECONDS)

"""``/v1/engagement``: engagement events, stats and a message's timeline; and ``/t``, the
tracking pixel and links that tracked mail carries."""

from __future__ import annotations

import base64
from typing import Any, Literal

from flask import Blueprint, Response, request

from mailbot_sandbox.api.common import account, listing, services, single
from mailbot_sandbox.api.objects import Out, Time
from mailbot_sandbox.api.queries import EngagementEventsQuery, EngagementStatsQuery
from mailbot_sandbox.api.routes import route
from mailbot_sandbox.core.engagement import EngagementRow, Stats
from mailbot_sandbox.core.messages import MessageRow

bp = Blueprint("engagement", __name__, url_prefix="/engagement")
# Served to recipients' mail clients, not to API callers: no key, not in the API document.
tracking = Blueprint("tracking", __name__, url_prefix="/t")

# The smallest transparent GIF: what a mail client loading the pixel gets.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
EngagementName = Literal["delivered", "opened", "clicked", "bounced", "complained"]


# -- the shapes answered here, and the one function writing each ----------------------------------
class EngagementEvent(Out):
    id: str
    event_id: str
    type: str
    event: EngagementName
    inbox_id: str
    message_id: str
    thread_id: str | None
    url: str | None
    created_at: Time


class EngagementCounts(Out):
    inbox_id: str | None
    sent: int
    delivered: int
    opened: int
    clicked: int
    bounced: int
    complained: int
    delivery_rate: float
    open_rate: float
    click_rate: float
    bounce_rate: float
    complaint_rate: float


class EngagementStats(EngagementCounts):
    period: Literal["24h", "7d", "30d"]
    since: Time
    until: Time
    inboxes: list[EngagementCounts]


class Timeline(Out):
    message_id: str
    inbox_id: str
    thread_id: str
    subject: str
    direction: str
    status: str
    sent_at: Time
    track_opens: bool
    track_clicks: bool
    opens: int
    clicks: int
    events: list[EngagementEvent]


def event_json(row: EngagementRow) -> dict[str, Any]:
    """An :class:`EngagementEvent`."""
    return {
        "id": row["event_id"],
        "event_id": row["event_id"],
        "type": f"message.{row['type']}",
        "event": row["type"],
        "inbox_id": row["inbox_id"],
        "message_id": row["message_id"],
        "thread_id": row["thread_id"],
        "url": row["url"],
        "created_at": row["created_at"],
    }


def counts_json(stats: Stats) -> dict[str, Any]:
    """An :class:`EngagementCounts`."""
    return {"inbox_id": stats.inbox_id, **stats.counts, **stats.rates()}


def timeline_json(message: MessageRow, events: list[EngagementRow]) -> dict[str, Any]:
    """A :class:`Timeline`."""
    kinds = [row["type"] for row in events]
    return {
        "message_id": message["id"],
        "inbox_id": message["inbox_id"],
        "thread_id": message["thread_id"],
        "subject": message["subject"],
        "direction": message["direction"],
        "status": message["status"],
        "sent_at": message["created_at"],
        "track_opens": bool(message["track_opens"]),
        "track_clicks": bool(message["track_clicks"]),
        "opens": kinds.count("opened"),
        "clicks": kinds.count("clicked"),
        "events": [event_json(row) for row in events],
    }


# -- /v1/engagement ------------------------------------------------------------------------------
@route(
    bp,
    "GET",
    "/events",
    "Engagement events",
    query=EngagementEventsQuery,
    response=EngagementEvent,
    envelope="list",
    errors=(404,),  # inbox_id names no inbox of the account
)
def list_events(query: EngagementEventsQuery) -> Response:
    """Delivered, bounced, complained, opened and clicked events of the account, newest
    first; ``event`` short (``opened``) or full (``message.opened``)."""
    rows, total = services().engagement.events_page(
        account(), page=query.page, limit=query.limit, inbox_id=query.inbox_id, event=query.event
    )
    return listing([event_json(row) for row in rows], total, query.page, query.limit)


@route(
    bp,
    "GET",
    "/stats",
    "Engagement counts and rates",
    query=EngagementStatsQuery,
    response=EngagementStats,
    errors=(404,),  # inbox_id names no inbox of the account
)
def stats(query: EngagementStatsQuery) -> Response:
    """Messages sent in the period (by the account's clock), and how many of them were
    delivered, opened, clicked, bounced or complained about; rates are shares of sent."""
    since, until, totals, per_inbox = services().engagement.stats(
        account(), query.period, query.inbox_id
    )
    return single(
        {
            **counts_json(totals),
            "period": query.period,
            "since": since,
            "until": until,
            "inboxes": [counts_json(one) for one in per_inbox],
        }
    )


@route(bp, "GET", "/messages/<message_id>", "A message's engagement timeline", response=Timeline)
def message_timeline(message_id: str) -> Response:
    """What happened to one message, oldest first."""
    return single(timeline_json(*services().engagement.timeline(account(), message_id)))


# -- /t: what tracked mail points at -------------------------------------------------------------
# Reached by recipients' mail clients, which hold no key: the token alone, 128 random bits
# tied to one message, says which message was opened or clicked.
def _counts() -> bool:
    """A HEAD (a link checker, a preview) looks without opening or clicking."""
    return request.method == "GET"


@route(
    tracking,
    "GET",
    "/o/<token>.gif",
    "A tracked message's pixel",
    envelope="bytes",
    content_type="image/gif",
    authenticated=False,
)
def opened(token: str) -> Response:
    """The pixel of a tracked message: each load records ``message.opened``."""
    services().engagement.hit(token, "open", count=_counts())
    response = Response(PIXEL, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store, max-age=0"
    return response


@route(
    tracking,
    "GET",
    "/c/<token>",
    "A tracked message's link",
    envelope="bytes",
    content_type="text/plain",
    status=302,
    authenticated=False,
)
def clicked(token: str) -> Response:
    """A tracked link: each visit records ``message.clicked`` and goes on to the original."""
    url = services().engagement.hit(token, "click", count=_counts()) or "/"
    response = Response(f"redirecting to {url}\n", status=302, mimetype="text/plain")
    response.headers["Location"] = url
    response.headers["Cache-Control"] = "no-store, max-age=0"
    return response

"""Threads of an inbox."""

from __future__ import annotations

from flask import Blueprint, Response

from mailbot_sandbox.api.common import account, listing, services, single
from mailbot_sandbox.api.objects import Thread, messages_json, thread_json
from mailbot_sandbox.api.queries import PageQuery
from mailbot_sandbox.api.routes import route

bp = Blueprint("threads", __name__)


@route(
    bp,
    "GET",
    "/inboxes/<inbox_id>/threads",
    "List threads",
    query=PageQuery,
    response=Thread,
    envelope="list",
)
def list_threads(inbox_id: str, query: PageQuery) -> Response:
    services().inboxes.row(account(), inbox_id)
    rows, total = services().threads.list_page(account(), inbox_id, query.page, query.limit)
    return listing([thread_json(r) for r in rows], total, query.page, query.limit)


@route(
    bp,
    "GET",
    "/inboxes/<inbox_id>/threads/<thread_id>",
    "Get a thread with its messages",
    response=Thread,
)
def get_thread(inbox_id: str, thread_id: str) -> Response:
    """The thread with its messages, oldest first."""
    services().inboxes.row(account(), inbox_id)
    row = services().threads.get(account(), inbox_id, thread_id)
    return single(thread_json(row, messages_json(services().messages.thread_messages(thread_id))))

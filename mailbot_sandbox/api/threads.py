"""Threads of an inbox."""

from __future__ import annotations

from flask import Blueprint, Response

from mailbot_sandbox.api.common import account, listing, page_args, services, single
from mailbot_sandbox.api.messages import serialize
from mailbot_sandbox.api.serializers import thread_json

bp = Blueprint("threads", __name__)


@bp.get("/inboxes/<inbox_id>/threads")
def list_threads(inbox_id: str) -> Response:
    page, limit = page_args()
    services().inboxes.row(account(), inbox_id)
    rows, total = services().threads.list_page(account(), inbox_id, page, limit)
    return listing([thread_json(r) for r in rows], total, page, limit)


@bp.get("/inboxes/<inbox_id>/threads/<thread_id>")
def get_thread(inbox_id: str, thread_id: str) -> Response:
    """The thread with its messages, oldest first."""
    services().inboxes.row(account(), inbox_id)
    row = services().threads.get(account(), inbox_id, thread_id)
    return single(thread_json(row, serialize(services().messages.thread_messages(thread_id))))

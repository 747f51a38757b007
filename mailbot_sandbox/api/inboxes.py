"""``/v1/inboxes``: create, list, read, change and disable inboxes."""

from __future__ import annotations

from flask import Blueprint, Response

from mailbot_sandbox.api.bodies import InboxChangesBody, NewInboxBody
from mailbot_sandbox.api.common import account, listing, services, single
from mailbot_sandbox.api.objects import Inbox, inbox_json
from mailbot_sandbox.api.queries import InboxQuery
from mailbot_sandbox.api.routes import route

bp = Blueprint("inboxes", __name__)


@route(
    bp,
    "POST",
    "/inboxes",
    "Create an inbox",
    body=NewInboxBody,
    response=Inbox,
    status=201,
    errors=(409, 422),
)
def create_inbox(body: NewInboxBody) -> Response:
    return single(inbox_json(services().inboxes.create(account(), body.to_core())), 201)


@route(bp, "GET", "/inboxes", "List inboxes", query=InboxQuery, response=Inbox, envelope="list")
def list_inboxes(query: InboxQuery) -> Response:
    rows, total = services().inboxes.list_page(
        account(), page=query.page, limit=query.limit, status=query.status, domain=query.domain
    )
    return listing([inbox_json(r) for r in rows], total, query.page, query.limit)


@route(bp, "GET", "/inboxes/<inbox_id>", "Get an inbox", response=Inbox)
def get_inbox(inbox_id: str) -> Response:
    return single(inbox_json(services().inboxes.get(account(), inbox_id)))


@route(bp, "PATCH", "/inboxes/<inbox_id>", "Change an inbox", body=InboxChangesBody, response=Inbox)
def update_inbox(inbox_id: str, body: InboxChangesBody) -> Response:
    return single(inbox_json(services().inboxes.update(account(), inbox_id, body.to_core())))


@route(bp, "DELETE", "/inboxes/<inbox_id>", "Disable an inbox", response=Inbox)
def delete_inbox(inbox_id: str) -> Response:
    """Disables the inbox (the hosted API never erases one); its mail stays readable."""
    return single(inbox_json(services().inboxes.set_status(account(), inbox_id, "disabled")))

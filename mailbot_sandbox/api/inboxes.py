"""``/v1/inboxes``: create, list, read, change and disable inboxes."""

from __future__ import annotations

from flask import Blueprint, Response

from mailbot_sandbox.api.common import account, arg, json_body, listing, page_args, services, single
from mailbot_sandbox.api.serializers import inbox_json

bp = Blueprint("inboxes", __name__)


@bp.post("/inboxes")
def create_inbox() -> Response:
    return single(inbox_json(services().inboxes.create(account(), json_body())), 201)


@bp.get("/inboxes")
def list_inboxes() -> Response:
    page, limit = page_args()
    rows, total = services().inboxes.list_page(
        account(), page=page, limit=limit, status=arg("status"), domain=arg("domain")
    )
    return listing([inbox_json(r) for r in rows], total, page, limit)


@bp.get("/inboxes/<inbox_id>")
def get_inbox(inbox_id: str) -> Response:
    return single(inbox_json(services().inboxes.get(account(), inbox_id)))


@bp.patch("/inboxes/<inbox_id>")
def update_inbox(inbox_id: str) -> Response:
    return single(inbox_json(services().inboxes.update(account(), inbox_id, json_body())))


@bp.delete("/inboxes/<inbox_id>")
def delete_inbox(inbox_id: str) -> Response:
    """Disables the inbox (the hosted API never erases one); its mail stays readable."""
    json_body()
    return single(inbox_json(services().inboxes.set_status(account(), inbox_id, "disabled")))

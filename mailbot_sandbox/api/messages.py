"""Messages of an inbox: send, reply, list, read, raw, attachments, labels, search, wait."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from mailbot_sandbox.api.common import (
    account,
    arg,
    int_arg,
    json_body,
    listing,
    page_args,
    services,
    single,
)
from mailbot_sandbox.api.serializers import message_json
from mailbot_sandbox.core import fields as validation
from mailbot_sandbox.core.messages import DEFAULT_WAIT_MS, MAX_WAIT_MS
from mailbot_sandbox.errors import InvalidRequest

bp = Blueprint("messages", __name__)

LIST_FILTERS = ("direction", "thread_id", "label", "from_address", "after", "before")


def serialize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages with their attachment lists (one query for the whole page)."""
    attachments = services().messages.attachments_of([r["seq"] for r in rows])
    return [message_json(r, attachments.get(r["seq"], [])) for r in rows]


def one(row: dict[str, Any], status: int = 200) -> Response:
    return single(serialize([row])[0], status)


@bp.post("/inboxes/<inbox_id>/messages")
def send_message(inbox_id: str) -> Response:
    return one(services().delivery.send(account(), inbox_id, json_body()), 201)


@bp.post("/messages/send")
def send_message_alias() -> Response:
    """The docs' form: ``inbox_id`` in the body."""
    body = json_body()
    inbox = body.pop("inbox_id", None)
    if inbox is None:
        raise InvalidRequest("inbox_id is required", field="inbox_id")
    inbox = validation.string(inbox, "inbox_id", max_length=64)
    return one(services().delivery.send(account(), inbox, body), 201)


@bp.post("/inboxes/<inbox_id>/messages/<message_id>/reply")
def reply(inbox_id: str, message_id: str) -> Response:
    return one(services().delivery.reply(account(), inbox_id, message_id, json_body()), 201)


@bp.post("/messages/<message_id>/reply")
def reply_alias(message_id: str) -> Response:
    parent = services().messages.find(account(), message_id)
    return one(
        services().delivery.reply(account(), parent["inbox_id"], message_id, json_body()), 201
    )


@bp.get("/inboxes/<inbox_id>/messages")
def list_messages(inbox_id: str) -> Response:
    page, limit = page_args()
    filters = {name: value for name in LIST_FILTERS if (value := arg(name)) is not None}
    rows, total = services().messages.list_page(
        account(), inbox_id, page=page, limit=limit, filters=filters
    )
    return listing(serialize(rows), total, page, limit)


@bp.get("/inboxes/<inbox_id>/messages/wait")
def wait_for_message(inbox_id: str) -> Response:
    """Long-poll: answers the moment a matching message lands, or 408."""
    services().metrics.wait_calls.inc()
    int_arg("poll_interval_ms", 0, 0, MAX_WAIT_MS)  # accepted for the SDK; nothing polls
    row = services().messages.wait(
        account(),
        inbox_id,
        direction=arg("direction") or "inbound",
        from_address=arg("from_address"),
        subject_contains=arg("subject_contains"),
        timeout_ms=int_arg("timeout_ms", DEFAULT_WAIT_MS, 0, MAX_WAIT_MS),
        after=arg("after"),
    )
    return one(row)


@bp.post("/inboxes/<inbox_id>/messages/search")
def search_messages(inbox_id: str) -> Response:
    body = json_body()
    validation.check_fields(body, ("query", "limit", "page"))
    query = validation.string(body.get("query", ""), "query", max_length=1000, allow_empty=True)
    limit = validation.integer(body.get("limit", 20), "limit", low=1, high=100)
    rows, total = services().messages.search(account(), inbox_id, query, limit)
    return listing(serialize(rows), total, 1, limit)


@bp.get("/inboxes/<inbox_id>/messages/<message_id>")
def get_message(inbox_id: str, message_id: str) -> Response:
    return one(services().messages.get(account(), inbox_id, message_id))


@bp.get("/inboxes/<inbox_id>/messages/<message_id>/raw")
def raw_message(inbox_id: str, message_id: str) -> Response:
    """The message's RFC 822 bytes, exactly as received (or as sent)."""
    raw = services().messages.raw(account(), inbox_id, message_id)
    return Response(
        raw,
        mimetype="message/rfc822",
        headers={"Content-Disposition": f'inline; filename="{message_id}.eml"'},
    )


@bp.get("/inboxes/<inbox_id>/messages/<message_id>/attachments/<attachment_id>")
def attachment(inbox_id: str, message_id: str, attachment_id: str) -> Response:
    row = services().messages.attachment(account(), inbox_id, message_id, attachment_id)
    safe_name = "".join(ch for ch in row["filename"] if ch.isprintable() and ch not in '"\\')
    return Response(
        row["content"],
        mimetype=row["content_type"],
        headers={"Content-Disposition": f'attachment; filename="{safe_name}"'},
    )


@bp.put("/inboxes/<inbox_id>/messages/<message_id>/labels")
def set_labels(inbox_id: str, message_id: str) -> Response:
    body = json_body()
    validation.check_fields(body, ("labels",), required=("labels",))
    labels = validation.string_set(body["labels"], "labels")
    return one(services().messages.set_labels(account(), inbox_id, message_id, labels))

"""Messages of an inbox: send, reply, list, read, raw, attachments, labels, search, wait."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response

from mailbot_sandbox.api.bodies import (
    LabelsBody,
    ReplyBody,
    SearchBody,
    SendBody,
    SendWithInboxBody,
)
from mailbot_sandbox.api.common import account, content_disposition, listing, services, single
from mailbot_sandbox.api.errors import FAULT_STATUSES
from mailbot_sandbox.api.objects import Message, message_of, messages_json
from mailbot_sandbox.api.queries import MessageQuery, WaitQuery
from mailbot_sandbox.api.routes import route

bp = Blueprint("messages", __name__)

# A send is refused by the inbox's permission or status (403), its size (413), its domain
# under the strict policy (422) or its daily limit (429); a fault injected on the inbox
# answers any status of FAULT_STATUSES.
SEND_ERRORS = tuple(sorted({403, 404, 413, 422, 429, *FAULT_STATUSES}))


def one(row: Mapping[str, Any], status: int = 200) -> Response:
    return single(message_of(row), status)


@route(
    bp,
    "POST",
    "/inboxes/<inbox_id>/messages",
    "Send a message",
    body=SendBody,
    response=Message,
    status=201,
    errors=SEND_ERRORS,
)
def send_message(inbox_id: str, body: SendBody) -> Response:
    return one(services().delivery.send(account(), inbox_id, body.to_core()), 201)


@route(
    bp,
    "POST",
    "/messages/send",
    "Send a message (inbox_id in the body)",
    body=SendWithInboxBody,
    response=Message,
    status=201,
    errors=SEND_ERRORS,
)
def send_message_alias(body: SendWithInboxBody) -> Response:
    """The docs' form: ``inbox_id`` in the body."""
    return one(services().delivery.send(account(), body.inbox_id, body.to_core()), 201)


@route(
    bp,
    "POST",
    "/inboxes/<inbox_id>/messages/<message_id>/reply",
    "Reply to a message",
    body=ReplyBody,
    response=Message,
    status=201,
    errors=SEND_ERRORS,
)
def reply(inbox_id: str, message_id: str, body: ReplyBody) -> Response:
    draft = body.to_core()
    return one(services().delivery.reply(account(), inbox_id, message_id, draft), 201)


@route(
    bp,
    "POST",
    "/messages/<message_id>/reply",
    "Reply to a message (any inbox)",
    body=ReplyBody,
    response=Message,
    status=201,
    errors=SEND_ERRORS,
)
def reply_alias(message_id: str, body: ReplyBody) -> Response:
    parent = services().messages.find(account(), message_id)
    draft = body.to_core()
    return one(services().delivery.reply(account(), parent["inbox_id"], message_id, draft), 201)


@route(
    bp,
    "GET",
    "/inboxes/<inbox_id>/messages",
    "List messages, newest first",
    query=MessageQuery,
    response=Message,
    envelope="list",
)
def list_messages(inbox_id: str, query: MessageQuery) -> Response:
    rows, total = services().messages.list_page(
        account(),
        inbox_id,
        page=query.page,
        limit=query.limit,
        direction=query.direction,
        thread_id=query.thread_id,
        label=query.label,
        from_address=query.from_address,
        after=query.after,
        before=query.before,
    )
    return listing(messages_json(rows), total, query.page, query.limit)


@route(
    bp,
    "GET",
    "/inboxes/<inbox_id>/messages/wait",
    "Wait for a message",
    query=WaitQuery,
    response=Message,
    errors=(408,),
)
def wait_for_message(inbox_id: str, query: WaitQuery) -> Response:
    """Long-poll: answers the moment a matching message lands, or 408."""
    services().metrics.wait_calls.inc()
    row = services().messages.wait(
        account(),
        inbox_id,
        direction=query.direction,
        from_address=query.from_address,
        subject_contains=query.subject_contains,
        timeout_ms=query.timeout_ms,
        after_message=query.after_message(),
        after_time=query.after_time(),
    )
    return one(row)


@route(
    bp,
    "POST",
    "/inboxes/<inbox_id>/messages/search",
    "Search an inbox",
    body=SearchBody,
    response=Message,
    envelope="list",
    errors=(403,),
)
def search_messages(inbox_id: str, body: SearchBody) -> Response:
    rows, total = services().messages.search(account(), inbox_id, body.query, body.limit)
    return listing(messages_json(rows), total, 1, body.limit)


@route(bp, "GET", "/inboxes/<inbox_id>/messages/<message_id>", "Get a message", response=Message)
def get_message(inbox_id: str, message_id: str) -> Response:
    return one(services().messages.get(account(), inbox_id, message_id))


@route(
    bp,
    "GET",
    "/inboxes/<inbox_id>/messages/<message_id>/raw",
    "The RFC 822 bytes",
    envelope="bytes",
    content_type="message/rfc822",
)
def raw_message(inbox_id: str, message_id: str) -> Response:
    """The message's RFC 822 bytes, exactly as received (or as sent)."""
    raw = services().messages.raw(account(), inbox_id, message_id)
    return Response(
        raw,
        mimetype="message/rfc822",
        headers={"Content-Disposition": f'inline; filename="{message_id}.eml"'},
    )


@route(
    bp,
    "GET",
    "/inboxes/<inbox_id>/messages/<message_id>/attachments/<attachment_id>",
    "An attachment's bytes, with the attachment's own content type",
    envelope="bytes",
    content_type="*/*",
)
def attachment(inbox_id: str, message_id: str, attachment_id: str) -> Response:
    row = services().messages.attachment(account(), inbox_id, message_id, attachment_id)
    return Response(
        row["content"],
        mimetype=row["content_type"],
        headers={"Content-Disposition": content_disposition("attachment", row["filename"])},
    )


@route(
    bp,
    "PUT",
    "/inboxes/<inbox_id>/messages/<message_id>/labels",
    "Replace a message's labels",
    body=LabelsBody,
    response=Message,
)
def set_labels(inbox_id: str, message_id: str, body: LabelsBody) -> Response:
    labels = list(body.labels)
    return one(services().messages.set_labels(account(), inbox_id, message_id, labels))

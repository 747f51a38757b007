"""``/sandbox/v1``: the sandbox's own control plane, scoped to the caller's account."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from mailbot_sandbox.api.common import (
    account,
    arg,
    authenticate,
    json_body,
    listing,
    page_args,
    services,
    single,
)
from mailbot_sandbox.api.serializers import inbox_json
from mailbot_sandbox.core import fields as validation
from mailbot_sandbox.core.maintenance import erase_inbox, reset_account
from mailbot_sandbox.core.outbox import outbox_json
from mailbot_sandbox.errors import InvalidRequest
from mailbot_sandbox.ids import format_time, parse_time

bp = Blueprint("control", __name__, url_prefix="/sandbox/v1")
bp.before_request(authenticate)

DNS_TYPES = ("TXT", "MX")


def _clock_json() -> dict[str, Any]:
    clock, acc = services().clock, account()
    return {"now": format_time(clock.now(acc.id)), "offset_seconds": clock.offset(acc.id)}


@bp.get("/clock")
def get_clock() -> Response:
    """This account's clock: ``now`` and how far it runs ahead of real time."""
    return single(_clock_json())


@bp.post("/clock")
def set_clock() -> Response:
    """Move this account's clock: one of ``now`` (ISO time), ``offset_seconds`` or
    ``advance_seconds``."""
    body = json_body()
    validation.check_fields(body, ("now", "offset_seconds", "advance_seconds"))
    if len(body) != 1:
        raise InvalidRequest("send exactly one of now, offset_seconds, advance_seconds")
    ((name, value),) = body.items()
    clock, acc = services().clock, account()
    if name == "now":
        target = parse_time(validation.string(value, "now", max_length=64))
        if target is None:
            raise InvalidRequest(f"now must be an ISO-8601 time, got {value!r}", field="now")
        offset = (target - clock.now(acc.id)).total_seconds() + clock.offset(acc.id)
    else:
        seconds = validation.integer(value, name, low=-10 * 365 * 86400, high=10 * 365 * 86400)
        offset = seconds if name == "offset_seconds" else clock.offset(acc.id) + seconds
    clock.set_offset(acc.id, float(offset))
    return single(_clock_json())


@bp.get("/dns")
def list_dns() -> Response:
    """The DNS records this account published for strict domain verification."""
    return single(services().domains.published_records(account()))


@bp.post("/dns")
def publish_dns() -> Response:
    """Add records: ``{"records": [{"type": "TXT"|"MX", "name", "value", "priority"?}]}``.

    A domain's own ``dns_records`` can be posted as they are.
    """
    body = json_body()
    validation.check_fields(body, ("records",), required=("records",))
    if not isinstance(body["records"], list) or not body["records"]:
        raise InvalidRequest("records must be a non-empty list", field="records")
    records = []
    for index, record in enumerate(body["records"]):
        where = f"records[{index}]"
        if not isinstance(record, dict):
            raise InvalidRequest(f"{where} must be an object", field=where)
        record_type = validation.choices(record.get("type"), f"{where}.type", DNS_TYPES)
        records.append(
            {
                "type": record_type,
                "name": validation.dns_name(record.get("name"), f"{where}.name"),
                "value": validation.string(record.get("value"), f"{where}.value", max_length=4096),
                "priority": validation.integer(
                    record.get("priority", 10), f"{where}.priority", low=0, high=65535
                )
                if record_type == "MX"
                else None,
            }
        )
    services().domains.publish_records(account(), records)
    return single(services().domains.published_records(account()), 201)


@bp.delete("/dns")
def clear_dns() -> Response:
    json_body()
    return single({"deleted": services().domains.clear_records(account())})


@bp.post("/inboxes/<inbox_id>/status")
def set_inbox_status(inbox_id: str) -> Response:
    """Set an inbox to ``active``, ``disabled`` or ``suspended``, as the hosted side would."""
    body = json_body()
    validation.check_fields(body, ("status",), required=("status",))
    return single(inbox_json(services().inboxes.set_status(account(), inbox_id, body["status"])))


@bp.post("/inboxes/<inbox_id>/messages")
def inject_message(inbox_id: str) -> Response:
    """Deliver a message into an inbox as if it arrived over SMTP: ``raw`` (RFC 822 text),
    ``raw_base64``, or ``from``/``subject``/``body_text``/``body_html``/``headers``."""
    from mailbot_sandbox.api.messages import one

    return one(services().delivery.inject(account(), inbox_id, json_body()), 201)


@bp.get("/outbox")
def list_outbox() -> Response:
    """Mail sent to addresses outside the sandbox (captured; it never leaves the machine)."""
    page, limit = page_args()
    rows, total = services().outbox.list_page(
        account(), page=page, limit=limit, to=arg("to"), inbox_id=arg("inbox_id")
    )
    return listing([outbox_json(r) for r in rows], total, page, limit)


@bp.get("/outbox/<captured_id>")
def get_outbox(captured_id: str) -> Response:
    return single(outbox_json(services().outbox.get(account(), captured_id)))


@bp.get("/outbox/<captured_id>/raw")
def raw_outbox(captured_id: str) -> Response:
    return Response(services().outbox.raw(account(), captured_id), mimetype="message/rfc822")


@bp.delete("/inboxes/<inbox_id>")
def erase_inbox_route(inbox_id: str) -> Response:
    """Remove an inbox with all its mail, freeing its address (``DELETE /v1/inboxes/{id}``
    only disables, as the hosted API does). The pytest plugin cleans up with this."""
    json_body()
    return single({"deleted": erase_inbox(services().store, account(), inbox_id)})


@bp.post("/reset")
def reset() -> Response:
    """Erase everything of this account: inboxes, mail, domains, DNS records."""
    json_body()
    return single({"deleted": reset_account(services().store, account())})

"""``/sandbox/v1``: the sandbox's own control plane, scoped to the caller's account."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from mailbot_sandbox.api.common import account, authenticate, listing, services, single
from mailbot_sandbox.api.control_bodies import (
    ClockBody,
    DnsBody,
    FaultBody,
    InjectBody,
    SimulateBody,
    StatusBody,
)
from mailbot_sandbox.api.objects import (
    Captured,
    Clock,
    Deleted,
    Fault,
    Inbox,
    Message,
    PublishedDnsRecord,
    captured_json,
    fault_json,
    inbox_json,
    message_of,
)
from mailbot_sandbox.api.queries import OutboxQuery
from mailbot_sandbox.api.routes import route
from mailbot_sandbox.core.maintenance import erase_inbox, reset_account
from mailbot_sandbox.errors import NotFound
from mailbot_sandbox.ids import format_time

bp = Blueprint("control", __name__, url_prefix="/sandbox/v1")
bp.before_request(authenticate)


def _clock_json() -> dict[str, Any]:
    clock, acc = services().clock, account()
    return {"now": format_time(clock.now(acc.id)), "offset_seconds": clock.offset(acc.id)}


@route(bp, "GET", "/clock", "This account's clock", response=Clock)
def get_clock() -> Response:
    """This account's clock: ``now`` and how far it runs ahead of real time."""
    return single(_clock_json())


@route(bp, "POST", "/clock", "Move this account's clock", body=ClockBody, response=Clock)
def set_clock(body: ClockBody) -> Response:
    """Move this account's clock: one of ``now`` (ISO time), ``offset_seconds`` or
    ``advance_seconds``."""
    clock, acc = services().clock, account()
    if body.now is not None:
        offset = (body.now - clock.now(acc.id)).total_seconds() + clock.offset(acc.id)
    elif body.offset_seconds is not None:
        offset = body.offset_seconds
    else:
        offset = clock.offset(acc.id) + (body.advance_seconds or 0)
    clock.set_offset(acc.id, float(offset))
    return single(_clock_json())


@route(
    bp,
    "GET",
    "/dns",
    "DNS records published for strict verification",
    response=PublishedDnsRecord,
    envelope="all",
)
def list_dns() -> Response:
    """The DNS records this account published for strict domain verification."""
    return single(services().domains.published_records(account()))


@route(
    bp,
    "POST",
    "/dns",
    "Publish DNS records",
    body=DnsBody,
    response=PublishedDnsRecord,
    envelope="all",
    status=201,
)
def publish_dns(body: DnsBody) -> Response:
    """Add records: ``{"records": [{"type": "TXT"|"MX", "name", "value", "priority"?}]}``.

    A domain's own ``dns_records`` can be posted as they are.
    """
    services().domains.publish_records(account(), [record.to_core() for record in body.records])
    return single(services().domains.published_records(account()), 201)


@route(bp, "DELETE", "/dns", "Remove this account's DNS records", response=Deleted)
def clear_dns() -> Response:
    return single({"deleted": services().domains.clear_records(account())})


@route(
    bp,
    "POST",
    "/inboxes/<inbox_id>/status",
    "Set an inbox's status",
    body=StatusBody,
    response=Inbox,
)
def set_inbox_status(inbox_id: str, body: StatusBody) -> Response:
    """Set an inbox to ``active``, ``disabled`` or ``suspended``, as the hosted side would."""
    return single(inbox_json(services().inboxes.set_status(account(), inbox_id, body.status)))


@route(bp, "POST", "/inboxes/<inbox_id>/faults", "Inject a fault", body=FaultBody, response=Fault)
def set_fault(inbox_id: str, body: FaultBody) -> Response:
    """Make the inbox's next ``fail_next`` sends fail (API: ``status``; SMTP: ``smtp_code``)
    and/or delay each by ``latency_ms``; ``applies_to`` ``receive`` does the same to SMTP
    deliveries to it. Replaces the fault the inbox had."""
    return single(fault_json(services().faults.set(account(), inbox_id, body.to_core())))


@route(bp, "GET", "/inboxes/<inbox_id>/faults", "An inbox's fault", response=Fault)
def get_fault(inbox_id: str) -> Response:
    """The inbox's fault: ``fail_next`` counts the failures still to come."""
    row = services().faults.get(account(), inbox_id)
    if row is None:
        raise NotFound(f"inbox {inbox_id} has no fault set")
    return single(fault_json(row))


@route(bp, "DELETE", "/inboxes/<inbox_id>/faults", "Clear an inbox's fault", response=Deleted)
def clear_fault(inbox_id: str) -> Response:
    """Clear the inbox's fault: ``deleted`` is 1, or 0 when it had none."""
    return single({"deleted": services().faults.clear(account(), inbox_id)})


@route(
    bp,
    "POST",
    "/inboxes/<inbox_id>/messages",
    "Inject an inbound message",
    body=InjectBody,
    response=Message,
    status=201,
    errors=(403, 413),
)
def inject_message(inbox_id: str, body: InjectBody) -> Response:
    """Deliver a message into an inbox as if it arrived over SMTP: ``raw`` (RFC 822 text),
    ``raw_base64``, or ``from``/``subject``/``body_text``/``body_html``/``headers``."""
    row = services().delivery.inject(account(), inbox_id, body.to_core())
    return single(message_of(row), 201)


@route(
    bp,
    "POST",
    "/messages/<message_id>/simulate",
    "Simulate engagement on a message",
    body=SimulateBody,
    response=Message,
)
def simulate(message_id: str, body: SimulateBody) -> Response:
    """Make ``delivered``, ``opened``, ``clicked`` (with the ``url`` opened), ``bounced`` or
    ``complained`` happen to a message of this account, as the hosted side would report it:
    the event is recorded (webhooks and streams get it) and a sent message's status follows.
    """
    row = services().engagement.simulate(account(), message_id, body.event, body.url)
    return single(message_of(row))


@route(
    bp,
    "GET",
    "/outbox",
    "Captured external mail",
    query=OutboxQuery,
    response=Captured,
    envelope="list",
)
def list_outbox(query: OutboxQuery) -> Response:
    """Mail sent to addresses outside the sandbox (captured; it never leaves the machine)."""
    rows, total = services().outbox.list_page(
        account(), page=query.page, limit=query.limit, to=query.to, inbox_id=query.inbox_id
    )
    return listing([captured_json(r) for r in rows], total, query.page, query.limit)


@route(bp, "GET", "/outbox/<captured_id>", "One captured message", response=Captured)
def get_outbox(captured_id: str) -> Response:
    return single(captured_json(services().outbox.get(account(), captured_id)))


@route(
    bp,
    "GET",
    "/outbox/<captured_id>/raw",
    "A captured message's bytes",
    envelope="bytes",
    content_type="message/rfc822",
)
def raw_outbox(captured_id: str) -> Response:
    return Response(services().outbox.raw(account(), captured_id), mimetype="message/rfc822")


@route(bp, "DELETE", "/inboxes/<inbox_id>", "Erase an inbox and its mail", response=Deleted)
def erase_inbox_route(inbox_id: str) -> Response:
    """Remove an inbox with all its mail, freeing its address (``DELETE /v1/inboxes/{id}``
    only disables, as the hosted API does). The pytest plugin cleans up with this."""
    return single({"deleted": erase_inbox(services().store, account(), inbox_id)})


@route(bp, "POST", "/reset", "Erase everything of this account", response=Deleted)
def reset() -> Response:
    """Erase everything of this account: inboxes, mail, domains, DNS records."""
    return single({"deleted": reset_account(services().store, account())})

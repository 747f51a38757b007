"""Every object the API answers with, declared once, and the one function writing each.

The models feed the OpenAPI document; the functions build plain dicts whose keys come from
the models' fields in order (building the dict is several times cheaper than a model dump,
and the JSON stays byte-identical). ``tests/test_openapi.py`` checks every response the test
suite receives against the document, so a function and its model cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mailbot_sandbox.api.common import services
from mailbot_sandbox.core.audit import AuditRow
from mailbot_sandbox.core.compliance import ComplianceReport, UsageReport
from mailbot_sandbox.core.domains import DomainRow

Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Out(BaseModel):
    """Base of every response shape: closed, so an undeclared key fails the schema check."""

    model_config = ConfigDict(extra="forbid")


class Inbox(Out):
    id: str
    account_id: str
    address: str
    username: str
    display_name: str | None
    domain: str
    status: Literal["active", "disabled", "suspended"]
    permissions: list[Literal["send", "receive", "search"]]
    daily_send_limit: int
    sends_today: int
    created_at: Time
    updated_at: Time
    labels: list[str]
    message_count: int
    thread_count: int


class DnsRecord(Out):
    purpose: Literal["spf", "dkim", "dmarc", "mx"]
    type: Literal["TXT", "MX"]
    name: str
    value: str
    priority: int = Field(10, description="MX records only")
    required: bool
    status: Literal["pending", "verified", "failed"]


class Domain(Out):
    id: str
    account_id: str
    domain: str
    status: Literal["pending", "verified", "failed"]
    dns_records: list[DnsRecord]
    created_at: Time
    verified_at: Time | None


class VerifiedDomain(Domain):
    spf_verified: bool
    dkim_verified: bool
    dmarc_verified: bool
    mx_verified: bool


class VerifyResult(Out):
    """The whole body of ``POST /v1/domains/{id}/verify``, not only ``data``."""

    data: VerifiedDomain
    next_step: str


class Attachment(Out):
    id: str
    filename: str
    content_type: str
    size: int


class Message(Out):
    id: str
    inbox_id: str
    thread_id: str
    message_id_header: str | None
    from_address: str
    from_name: str | None
    to_addresses: list[str]
    cc_addresses: list[str]
    reply_to: list[str]
    subject: str
    body_text: str | None
    body_html: str | None
    direction: Literal["inbound", "outbound"]
    status: Literal["sent", "delivered", "bounced", "complained", "received"]
    in_reply_to: str | None
    references: list[str]
    labels: list[str]
    attachments: list[Attachment]
    size: int
    created_at: Time
    headers: list[tuple[str, str]] = Field(
        description="every header as received, in order: [name, value] pairs, values unfolded "
        "and decoded"
    )
    bcc_addresses: list[str] = Field([], description="outbound messages only")


class Thread(Out):
    id: str
    inbox_id: str
    subject: str
    last_message_at: Time
    message_count: int
    labels: list[str]
    participants: list[str]
    created_at: Time
    messages: list[Message] = Field([], description="GET of one thread only, oldest first")


class CapturedAttachment(Out):
    filename: str
    content_type: str
    size: int


class Captured(Out):
    """Mail to an address outside the sandbox, kept instead of sent."""

    id: str
    inbox_id: str | None = Field(
        description="the sending inbox; null for plain SMTP mail the catch-all captured"
    )
    message_id: str | None = Field(
        description="the sender's copy; null for plain SMTP mail the catch-all captured"
    )
    mail_from: str
    recipients: list[str]
    to_addresses: list[str]
    cc_addresses: list[str]
    subject: str
    body_text: str | None
    body_html: str | None
    size: int
    created_at: Time
    attachments: list[CapturedAttachment]


class Clock(Out):
    now: Time
    offset_seconds: float


class PublishedDnsRecord(Out):
    type: Literal["TXT", "MX"]
    name: str
    value: str
    priority: int | None


class Fault(Out):
    inbox_id: str
    fail_next: int
    status: int
    smtp_code: int
    retry_after: int
    latency_ms: int
    applies_to: list[Literal["send", "receive"]]
    created_at: Time


class Deleted(Out):
    deleted: int | dict[str, int]


class Meta(Out):
    total: int
    page: int
    limit: int
    per_page: int


class ErrorBody(Out):
    code: str
    message: str
    details: dict[str, Any] = {}


class Error(Out):
    """The one error body of every route."""

    error: ErrorBody


class Health(Out):
    status: Literal["ok"]


class Ready(Out):
    status: Literal["ready"]
    checks: dict[str, str]


class ServerInfo(Out):
    name: str
    version: str
    api_version: str
    sandbox: bool


class Info(Out):
    data: ServerInfo


class InboxUsage(Out):
    inbox_id: str
    address: str
    sends_today: int
    daily_send_limit: int
    remaining: int


class UsageTotals(Out):
    sends_today: int
    inboxes: int
    messages: int
    daily_send_limit: int = Field(description="the sum of the inboxes' limits")
    remaining: int


class Usage(Out):
    date: str = Field(description="the day counted, YYYY-MM-DD by the account clock")
    resets_at: Time
    totals: UsageTotals
    inboxes: list[InboxUsage]


RecordCheck = Literal["pass", "fail", "missing"]


class ComplianceCheck(Out):
    domain: str
    spf: RecordCheck
    dkim: RecordCheck
    dmarc: RecordCheck
    content_class: str
    readiness_score: int = Field(ge=0, le=100)
    blocked_reasons: list[str]


class Readiness(ComplianceCheck):
    inbox_id: str
    address: str
    ready: bool


class AuditEntry(Out):
    id: str
    action: str = Field(description="``<target_type>.<what happened>``, e.g. ``inbox.created``")
    target_type: str
    target_id: str
    inbox_id: str | None
    metadata: dict[str, Any]
    created_at: Time


# -- the one function per shape ------------------------------------------------------------------
_INBOX_KEYS = tuple(Inbox.model_fields)
_DOMAIN_KEYS = tuple(Domain.model_fields)
_MESSAGE_KEYS = tuple(key for key in Message.model_fields if key != "bcc_addresses")
_THREAD_KEYS = tuple(key for key in Thread.model_fields if key != "messages")
_CAPTURED_KEYS = tuple(Captured.model_fields)


def inbox_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """An :class:`Inbox`; counters absent from ``row`` are 0."""
    return {key: row.get(key, 0 if key.endswith("_count") else None) for key in _INBOX_KEYS}


def domain_json(row: DomainRow) -> dict[str, Any]:
    """A :class:`Domain` with the records it asks its owner to publish."""
    records = services().domains.expected_records(row)
    fields: Mapping[str, Any] = row
    return {key: records if key == "dns_records" else fields[key] for key in _DOMAIN_KEYS}


def message_json(
    row: Mapping[str, Any], attachments: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A :class:`Message`; ``bcc_addresses`` only on the sender's copy."""
    data = {key: attachments if key == "attachments" else row[key] for key in _MESSAGE_KEYS}
    if row["headers"] is None:  # stored before headers were kept: read from its bytes
        data["headers"] = services().messages.headers_of(row)  # type: ignore[arg-type]
    if row["direction"] == "outbound":
        data["bcc_addresses"] = row["bcc_addresses"]
    return data


def messages_json(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages with their attachment lists (one query for the whole page)."""
    attachments = services().messages.attachments_of([r["seq"] for r in rows])
    return [message_json(r, attachments.get(r["seq"], [])) for r in rows]


def message_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """One :class:`Message` with its attachments."""
    return messages_json([row])[0]


def thread_json(
    row: Mapping[str, Any], messages: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A :class:`Thread`; ``messages`` (oldest first) when one thread is asked for."""
    data = {key: row[key] for key in _THREAD_KEYS}
    if messages is not None:
        data["messages"] = messages
    return data


def fault_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A :class:`Fault`."""
    return {key: row[key] for key in Fault.model_fields}


def captured_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A :class:`Captured` outbox entry."""
    return {key: row[key] for key in _CAPTURED_KEYS}


def usage_json(report: UsageReport) -> dict[str, Any]:
    inboxes = [
        {
            "inbox_id": row["inbox_id"],
            "address": row["address"],
            "sends_today": row["sends_today"],
            "daily_send_limit": row["daily_send_limit"],
            "remaining": max(0, row["daily_send_limit"] - row["sends_today"]),
        }
        for row in report.inboxes
    ]
    return {
        "date": report.day,
        "resets_at": report.resets_at,
        "totals": {
            "sends_today": report.sends_today,
            "inboxes": len(inboxes),
            "messages": report.messages,
            "daily_send_limit": sum(i["daily_send_limit"] for i in inboxes),
            "remaining": sum(i["remaining"] for i in inboxes),
        },
        "inboxes": inboxes,
    }


def compliance_json(report: ComplianceReport) -> dict[str, Any]:
    return {
        "domain": report.domain,
        "spf": report.spf,
        "dkim": report.dkim,
        "dmarc": report.dmarc,
        "content_class": report.content_class,
        "readiness_score": report.readiness_score,
        "blocked_reasons": list(report.blocked_reasons),
    }


def readiness_json(inbox_id: str, address: str, report: ComplianceReport) -> dict[str, Any]:
    return {
        **compliance_json(report),
        "inbox_id": inbox_id,
        "address": address,
        "ready": not report.blocked_reasons,
    }


_AUDIT_KEYS = tuple(AuditEntry.model_fields)


def audit_json(row: AuditRow) -> dict[str, Any]:
    return {key: row[key] for key in _AUDIT_KEYS}  # type: ignore[literal-required]

"""Every request body of the sandbox's control plane (``/sandbox/v1``), declared once.

The same rules as :mod:`~mailbot_sandbox.api.bodies` (which holds those of ``/v1``): views
parse into these, the OpenAPI document is generated from them, and each turns itself into
the typed value the core method wants.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictInt, StrictStr, model_validator

from mailbot_sandbox.api.bodies import ENGAGEMENT_NAMES, Status
from mailbot_sandbox.api.checks import (
    Addresses,
    Base64,
    DnsName,
    EmailAddress,
    Headers,
    HeaderText,
    LongText,
    Moment,
    Shape,
    ShortText,
)
from mailbot_sandbox.api.errors import FaultStatus
from mailbot_sandbox.core.domains import DnsRecordRow
from mailbot_sandbox.core.drafts import InjectedMail
from mailbot_sandbox.core.faults import MAX_FAILURES, MAX_LATENCY_MS, NewFault

MAX_SECONDS = 10 * 365 * 86400
EngagementName = Annotated[ShortText, Field(json_schema_extra={"enum": ENGAGEMENT_NAMES})]


# -- inboxes ------------------------------------------------------------------------------------
class StatusBody(Shape):
    """``POST /sandbox/v1/inboxes/{inbox_id}/status``."""

    status: Status


def _some_fault(schema: dict[str, Any]) -> None:
    # A fault that neither fails nor delays anything is refused (core/faults.py): say so.
    schema["minProperties"] = 1  # so no body at all is refused too
    schema["anyOf"] = [
        {"required": [name], "properties": {name: {"minimum": 1}}}
        for name in ("fail_next", "latency_ms")
    ]


class FaultBody(Shape):
    """``POST /sandbox/v1/inboxes/{inbox_id}/faults``: fail the next ``fail_next`` sends
    (``status`` over HTTP, ``smtp_code`` over SMTP) and/or delay each by ``latency_ms``."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_some_fault)

    fail_next: Annotated[StrictInt, Field(ge=0, le=MAX_FAILURES)] = 0
    status: FaultStatus = 503
    smtp_code: Annotated[StrictInt, Field(ge=400, le=599)] = 451
    retry_after: Annotated[StrictInt, Field(ge=0, le=3600)] = 1
    latency_ms: Annotated[StrictInt, Field(ge=0, le=MAX_LATENCY_MS)] = 0
    applies_to: Annotated[list[Literal["send", "receive"]], Field(min_length=1)] = ["send"]

    def to_core(self) -> NewFault:
        """The request as core takes it."""
        fields = self.model_dump(exclude={"applies_to"})
        return NewFault(**fields, applies_to=tuple(self.applies_to))


class InjectBody(Shape):
    """``POST /sandbox/v1/inboxes/{inbox_id}/messages``: raw RFC 822 text, base64 bytes, or
    the parts of a simple message."""

    raw: Annotated[StrictStr, Field(min_length=1)] | None = None
    raw_base64: Base64 | None = None
    from_: EmailAddress = Field("sender@example.com", alias="from")
    to: Addresses | None = None
    subject: HeaderText = ""
    body_text: StrictStr | None = None
    body_html: StrictStr | None = None
    headers: Headers = {}

    def to_core(self) -> bytes | InjectedMail:
        """The raw bytes given, or the parts for delivery to compose."""
        if self.raw is not None:
            return self.raw.encode("utf-8", "surrogateescape")
        if self.raw_base64 is not None:
            return self.raw_base64
        return InjectedMail(
            from_address=self.from_,
            to=list(self.to) if self.to is not None else None,
            subject=self.subject,
            body_text=self.body_text,
            body_html=self.body_html,
            headers=dict(self.headers),
        )


# -- the account: clock and DNS -------------------------------------------------------------------
class ClockBody(Shape):
    """``POST /sandbox/v1/clock``: exactly one of the three."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"minProperties": 1, "maxProperties": 1}
    )

    now: Moment | None = None
    offset_seconds: Annotated[StrictInt, Field(ge=-MAX_SECONDS, le=MAX_SECONDS)] | None = None
    advance_seconds: Annotated[StrictInt, Field(ge=-MAX_SECONDS, le=MAX_SECONDS)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ClockBody:
        if len(self.model_fields_set) != 1:
            raise ValueError("send exactly one of now, offset_seconds, advance_seconds")
        return self


class DnsRecordBody(Shape):
    # A domain's own dns_records (with purpose, required, status) may be posted as they are.
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["TXT", "MX"]
    name: DnsName
    value: LongText
    priority: Annotated[StrictInt, Field(ge=0, le=65535)] = 10

    def to_core(self) -> DnsRecordRow:
        """The record as the DNS table keeps it (a priority only on MX)."""
        priority = self.priority if self.type == "MX" else None
        return DnsRecordRow(type=self.type, name=self.name, value=self.value, priority=priority)


class DnsBody(Shape):
    """``POST /sandbox/v1/dns``; a domain's own ``dns_records`` can be posted as they are."""

    records: Annotated[list[DnsRecordBody], Field(min_length=1)]


# -- engagement ----------------------------------------------------------------------------------
class SimulateBody(Shape):
    """``POST /sandbox/v1/messages/{message_id}/simulate``: ``url`` is what a click opened."""

    event: EngagementName
    url: LongText | None = None

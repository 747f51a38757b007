"""Every query string the API takes, declared once: a parameter not declared is a 400.

Values arrive as strings; numbers and times are parsed from them, and an empty value means
absent (the SDK sends ``?inbox_id=`` for None).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from mailbot_sandbox.api.bodies import ENGAGEMENT_NAMES, EVENT_NAMES, Status
from mailbot_sandbox.api.checks import DomainName, Moment, MomentOrMessage, Shape, short_repr
from mailbot_sandbox.core.events import EVENT_TYPES
from mailbot_sandbox.core.messages import DEFAULT_WAIT_MS, MAX_WAIT_MS
from mailbot_sandbox.ids import id_pattern

Page = Annotated[int, Field(ge=1, le=1_000_000)]
Limit = Annotated[int, Field(ge=1, le=100)]


class PageQuery(Shape):
    page: Page = 1
    limit: Limit = 20


class InboxQuery(PageQuery):
    status: Status | None = None
    domain: str | None = None


class MessageQuery(PageQuery):
    direction: Literal["inbound", "outbound"] | None = None
    thread_id: str | None = None
    label: str | None = None
    from_address: str | None = None
    after: Moment | None = None
    before: Moment | None = None


class WaitQuery(Shape):
    direction: Literal["inbound", "outbound", "any"] = "inbound"
    from_address: str | None = None
    subject_contains: str | None = None
    timeout_ms: Annotated[int, Field(ge=0, le=MAX_WAIT_MS)] = DEFAULT_WAIT_MS
    poll_interval_ms: Annotated[int, Field(ge=0, le=MAX_WAIT_MS)] = 0  # accepted; nothing polls
    after: MomentOrMessage | None = None

    def after_message(self) -> str | None:
        """``after`` when it names a message."""
        return self.after if isinstance(self.after, str) else None

    def after_time(self) -> datetime | None:
        """``after`` when it is a time."""
        return self.after if isinstance(self.after, datetime) else None


class OutboxQuery(PageQuery):
    to: str | None = None
    inbox_id: str | None = None


class ComplianceQuery(Shape):
    domain: DomainName


class EventQuery(PageQuery):
    inbox_id: str | None = None
    type: Annotated[str, Field(json_schema_extra={"enum": EVENT_NAMES})] | None = None


class EngagementEventsQuery(PageQuery):
    inbox_id: str | None = None
    event: Annotated[str, Field(json_schema_extra={"enum": ENGAGEMENT_NAMES})] | None = None


class EngagementStatsQuery(Shape):
    inbox_id: str | None = None
    period: Literal["24h", "7d", "30d"] = "7d"


class AuditQuery(PageQuery):
    action: str | None = None
    target_type: str | None = None
    inbox_id: str | None = None


# A stream's ``events``: known names (full or short), comma-separated, with spaces around
# them. Stated in the document, and the check itself, so the two cannot disagree.
_NAME = "|".join(re.escape(name) for name in EVENT_NAMES)
EVENT_LIST_PATTERN = rf"^[ ,]*({_NAME})( *,[ ,]*({_NAME}))*[ ,]*$"


def _event_list(value: str) -> str:
    if re.match(EVENT_LIST_PATTERN, value):
        return value
    for name in (part.strip() for part in value.split(",")):
        if name and name not in EVENT_NAMES:
            known = ", ".join(EVENT_TYPES)
            raise ValueError(f"names an unknown event {short_repr(name)}; known events: {known}")
    raise ValueError(f"must be event names separated by commas, got {short_repr(value)}")


EventList = Annotated[
    str,
    Field(
        description="event types to follow, comma-separated (full or short names)",
        json_schema_extra={"examples": ["message.received,bounced"], "pattern": EVENT_LIST_PATTERN},
    ),
    AfterValidator(_event_list),
]


class StreamQuery(Shape):
    # For clients that cannot set the Last-Event-ID header (the header wins when both come).
    # Only an event id is a resume point: the pattern is stated here, checked in core/streams
    # (which checks the header the same way).
    last_event_id: (
        Annotated[str, Field(json_schema_extra={"pattern": id_pattern("evt")})] | None
    ) = None
    events: EventList | None = None

    def event_names(self) -> list[str] | None:
        """The ``events`` named, or None for every type."""
        if self.events is None:
            return None
        return [name.strip() for name in self.events.split(",") if name.strip()] or None


class RealtimeQuery(StreamQuery):
    inbox_id: str | None = None

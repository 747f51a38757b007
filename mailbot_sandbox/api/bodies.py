"""Every request body the API takes, declared once.

Views parse into these (validation), the OpenAPI document is generated from them, and each
turns itself into the typed value the core method wants (:meth:`to_core`-style methods), so no
request dict travels past ``api/``.
"""

from __future__ import annotations

import mimetypes
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from mailbot_sandbox.api.checks import (
    Addresses,
    Base64,
    DomainName,
    Headers,
    HeaderText,
    Labels,
    LongText,
    MediaType,
    ReplyToAddresses,
    SearchText,
    Shape,
    ShortText,
    SomeAddresses,
    Text,
)
from mailbot_sandbox.core.drafts import NewMessage, ReplyDraft
from mailbot_sandbox.core.engagement import ENGAGEMENT_EVENTS
from mailbot_sandbox.core.events import EVENT_TYPES, SHORT_NAMES
from mailbot_sandbox.core.inboxes import (
    DEFAULT_DAILY_SEND_LIMIT,
    MAX_DAILY_SEND_LIMIT,
    PERMISSIONS,
    InboxChanges,
    NewInbox,
)
from mailbot_sandbox.core.webhooks import NewWebhook
from mailbot_sandbox.mail.message import Attachment

Status = Literal["active", "disabled", "suspended"]
DailySendLimit = Annotated[StrictInt, Field(ge=1, le=MAX_DAILY_SEND_LIMIT)]


def _in_permission_order(items: list[str]) -> list[str]:
    return sorted(set(items), key=PERMISSIONS.index)


Permissions = Annotated[
    list[Literal["send", "receive", "search"]],
    Field(min_length=1),
    AfterValidator(_in_permission_order),
]


def _username(value: str) -> str:
    name = value.lower()
    if not set(name) <= _USERNAME_CHARS or name.startswith(".") or name.endswith("."):
        raise ValueError(
            "may hold only a-z, 0-9, '.', '_' and '-' (1-64 characters) "
            "and must not start or end with '.'"
        )
    return name


_USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
Username = Annotated[
    ShortText,
    AfterValidator(_username),
    # Not starting or ending with ".".
    Field(json_schema_extra={"pattern": "^[a-z0-9_-]([a-z0-9._-]{0,62}[a-z0-9_-])?$"}),
]


# -- inboxes and domains --------------------------------------------------------------------------
class NewInboxBody(Shape):
    """``POST /v1/inboxes``."""

    username: Username
    domain: DomainName | None = None
    display_name: Text | None = None
    daily_send_limit: DailySendLimit = DEFAULT_DAILY_SEND_LIMIT
    permissions: Permissions = ["send", "receive", "search"]
    labels: Labels = []

    def to_core(self) -> NewInbox:
        """The request as core takes it."""
        return NewInbox(
            username=self.username,
            domain=self.domain,
            display_name=self.display_name,
            daily_send_limit=self.daily_send_limit,
            permissions=list(self.permissions),
            labels=list(self.labels),
        )


def _no_defaults(schema: dict[str, Any]) -> None:
    # The defaults below only fill fields that were not sent, which do not change.
    for field in schema.get("properties", {}).values():
        field.pop("default", None)
    schema["minProperties"] = 1  # nothing to change is refused


class InboxChangesBody(Shape):
    """``PATCH /v1/inboxes/{inbox_id}``: only the fields sent change."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_no_defaults)

    display_name: Text | None = None
    daily_send_limit: DailySendLimit = DEFAULT_DAILY_SEND_LIMIT
    permissions: Permissions = []
    status: Status = "active"
    labels: Labels = []

    @model_validator(mode="after")
    def _something(self) -> InboxChangesBody:
        if not self.model_fields_set:
            names = ", ".join(type(self).model_fields)
            raise ValueError(f"nothing to change; send any of {names}")
        return self

    def to_core(self) -> InboxChanges:
        """Only the fields the request sent (``display_name: null`` clears the name)."""
        return InboxChanges(**{name: getattr(self, name) for name in self.model_fields_set})


class NewDomainBody(Shape):
    """``POST /v1/domains``."""

    domain: DomainName


# -- messages -------------------------------------------------------------------------------------
class AttachmentBody(Shape):
    filename: Text
    content_type: MediaType | None = None
    content: Base64

    def to_core(self) -> Attachment:
        """The attachment, its content type guessed from the file name when not given."""
        guessed = mimetypes.guess_type(self.filename)[0] or "application/octet-stream"
        return Attachment(
            filename=self.filename,
            content_type=(self.content_type or guessed).lower(),
            content=self.content,
        )


def _some_body(schema: dict[str, Any]) -> None:
    schema["minProperties"] = 1
    schema["anyOf"] = [
        {"required": [name], "properties": {name: {"type": "string"}}}
        for name in ("body_text", "body_html")
    ]


class _DraftBody(Shape):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_some_body)

    body_text: StrictStr | None = None
    body_html: StrictStr | None = None
    cc: Addresses = []
    bcc: Addresses = []
    headers: Headers = {}
    attachments: list[AttachmentBody] = []
    labels: Labels = []
    track_opens: StrictBool = False
    track_clicks: StrictBool = False

    @model_validator(mode="after")
    def _has_body(self) -> _DraftBody:
        if self.body_text is None and self.body_html is None:
            raise ValueError("send body_text, body_html or both")
        return self

    def _draft(self) -> dict[str, Any]:
        return {
            "body_text": self.body_text,
            "body_html": self.body_html,
            "cc": list(self.cc),
            "bcc": list(self.bcc),
            "headers": dict(self.headers),
            "attachments": [item.to_core() for item in self.attachments],
            "labels": list(self.labels),
            "track_opens": self.track_opens,
            "track_clicks": self.track_clicks,
        }


class SendBody(_DraftBody):
    """``POST /v1/inboxes/{inbox_id}/messages``."""

    to: SomeAddresses
    subject: HeaderText = ""
    reply_to: ReplyToAddresses = []

    def to_core(self) -> NewMessage:
        """The message as delivery takes it."""
        return NewMessage(
            to=list(self.to), subject=self.subject, reply_to=list(self.reply_to), **self._draft()
        )


class SendWithInboxBody(SendBody):
    """``POST /v1/messages/send``: the docs' form, with the sending inbox in the body."""

    inbox_id: ShortText


class ReplyBody(_DraftBody):
    """``POST /v1/inboxes/{inbox_id}/messages/{message_id}/reply``."""

    reply_all: StrictBool = False

    def to_core(self) -> ReplyDraft:
        """The reply as delivery takes it."""
        return ReplyDraft(reply_all=self.reply_all, **self._draft())


class SearchBody(Shape):
    """``POST /v1/inboxes/{inbox_id}/messages/search``."""

    query: SearchText = ""
    limit: Annotated[StrictInt, Field(ge=1, le=100)] = 20
    page: Annotated[StrictInt, Field(ge=1)] = 1


class LabelsBody(Shape):
    """``PUT /v1/inboxes/{inbox_id}/messages/{message_id}/labels``: replaces the set."""

    labels: Labels


# -- webhooks and events -------------------------------------------------------------------------
# Full (message.delivered) or short (delivered) names: the document lists both.
EVENT_NAMES = [*EVENT_TYPES, *SHORT_NAMES]
EventName = Annotated[ShortText, Field(json_schema_extra={"enum": EVENT_NAMES})]
EventNames = Annotated[list[EventName], Field(min_length=1, max_length=20)]
# An absolute http(s) URL with a host, as core.webhooks.check_url takes it.
WebhookUrl = Annotated[
    LongText,
    Field(
        json_schema_extra={
            "pattern": r"^https?://[a-z0-9]([a-z0-9.-]{0,60}[a-z0-9])?(:[0-9]{1,4})?(/[!-~]*)?$"
        }
    ),
]


class InboxWebhookBody(Shape):
    """``POST /v1/inboxes/{inbox_id}/webhooks``: events full (``message.delivered``) or
    short (``delivered``)."""

    url: WebhookUrl
    events: EventNames

    def to_core(self, inbox_id: str | None = None) -> NewWebhook:
        """The request as core takes it."""
        return NewWebhook(url=self.url, events=list(self.events), inbox_id=inbox_id)


class NewWebhookBody(InboxWebhookBody):
    """``POST /v1/webhooks``: ``inbox_id`` limits it to one inbox's events."""

    inbox_id: ShortText | None = None

    def to_core(self, inbox_id: str | None = None) -> NewWebhook:
        return super().to_core(inbox_id or self.inbox_id)


# -- engagement ----------------------------------------------------------------------------------
ENGAGEMENT_NAMES = [*ENGAGEMENT_EVENTS, *(f"message.{name}" for name in ENGAGEMENT_EVENTS)]


class ReplayBody(Shape):
    """``POST /v1/events/{event_id}/replay``: ``target_url`` instead of each webhook's URL."""

    target_url: WebhookUrl | None = None

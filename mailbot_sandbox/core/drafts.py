"""What a caller asks delivery to send or inject: checked values, no request dicts.

The API builds these from its request shapes; every value here is already valid (addresses
reduced to their addr-spec, attachments decoded), so delivery only applies the inbox's rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailbot_sandbox.mail.message import Attachment


@dataclass(frozen=True, kw_only=True)
class Draft:
    """The parts a send and a reply share."""

    body_text: str | None = None
    body_html: str | None = None
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    track_opens: bool = False
    track_clicks: bool = False


@dataclass(frozen=True, kw_only=True)
class NewMessage(Draft):
    """A new message from an inbox: ``POST /v1/inboxes/{id}/messages``."""

    to: list[str]
    subject: str = ""


@dataclass(frozen=True, kw_only=True)
class ReplyDraft(Draft):
    """A reply; recipients and subject come from the parent (``reply_all`` adds its others)."""

    reply_all: bool = False


@dataclass(frozen=True, kw_only=True)
class InjectedMail:
    """A message composed by the sandbox and delivered as if it arrived over SMTP."""

    from_address: str = "sender@example.com"
    to: list[str] | None = None  # None: the inbox's own address
    subject: str = ""
    body_text: str | None = None
    body_html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

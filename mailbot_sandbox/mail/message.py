"""A message as the sandbox holds it: the fields parsed from (or composed into) its bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Attachment:
    """One attachment (or inline part) of a message, payload already decoded."""

    filename: str
    content_type: str
    content: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass
class ParsedMail:
    """The fields of a received message the sandbox stores and serves."""

    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_address: str = ""
    from_name: str | None = None
    to_addresses: list[str] = field(default_factory=list)
    cc_addresses: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    date: datetime | None = None
    body_text: str | None = None
    body_html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)

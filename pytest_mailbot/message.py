"""A message as a test reads it: fields, headers, raw bytes, attachments, links and codes."""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pytest_mailbot.content import anchors, find_code, text_urls

if TYPE_CHECKING:
    from pytest_mailbot.client import MailbotClient


class Attachment:
    """One attachment of a message; ``content`` is fetched on first use."""

    def __init__(self, data: dict[str, Any], loader: Callable[[], bytes]) -> None:
        self.id: str = data.get("id") or ""  # a captured message's attachments have no id
        self.filename: str = data["filename"]
        self.content_type: str = data["content_type"]
        self.size: int = data["size"]
        self._loader = loader

    @cached_property
    def content(self) -> bytes:
        """The attachment's bytes, fetched on first use."""
        return self._loader()

    def __repr__(self) -> str:
        return f"<Attachment {self.filename!r} {self.content_type} {self.size} bytes>"


class Message:
    """A delivered (or captured) message, with the ways a test reads it."""

    def __init__(
        self,
        data: dict[str, Any],
        raw_loader: Callable[[], bytes],
        attachment_loader: Callable[[str], bytes] | None = None,
        client: MailbotClient | None = None,
    ) -> None:
        self.data = data
        self._raw_loader = raw_loader
        self._attachment_loader = attachment_loader
        self._client = client

    # -- fields ---------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The message id, ``msg_...``."""
        return str(self.data["id"])

    @property
    def subject(self) -> str:
        """The subject ("" when there is none)."""
        return str(self.data.get("subject") or "")

    @property
    def text(self) -> str:
        """The plain-text body ("" when there is none)."""
        return str(self.data.get("body_text") or "")

    @property
    def html(self) -> str:
        """The HTML body ("" when there is none)."""
        return str(self.data.get("body_html") or "")

    @property
    def from_address(self) -> str:
        """The sender's address (the envelope sender for captured mail without one)."""
        return str(self.data.get("from_address") or self.data.get("mail_from") or "")

    @property
    def to(self) -> list[str]:
        """The To addresses."""
        return list(self.data.get("to_addresses") or [])

    @property
    def cc(self) -> list[str]:
        """The Cc addresses."""
        return list(self.data.get("cc_addresses") or [])

    @property
    def created_at(self) -> str:
        """When the sandbox stored it: ISO-8601 UTC with ``Z``."""
        return str(self.data.get("created_at") or "")

    @cached_property
    def raw(self) -> bytes:
        """The RFC 822 bytes, exactly as stored."""
        return self._raw_loader()

    @cached_property
    def headers(self) -> EmailMessage:
        """All headers, case-insensitive: ``msg.headers["X-Campaign"]``."""
        parsed = email.message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def attachments(self) -> list[Attachment]:
        """The attachments; each one's ``content`` is fetched on first use."""
        return [
            Attachment(item, self._load_attachment(item.get("id") or item["filename"]))
            for item in self.data.get("attachments") or []
        ]

    def _load_attachment(self, attachment_id: str) -> Callable[[], bytes]:
        loader = self._attachment_loader
        return (lambda: loader(attachment_id)) if loader else (lambda: b"")

    # -- content --------------------------------------------------------------------------------
    @property
    def links(self) -> list[str]:
        """Every link: those of the HTML body in order, then URLs written in the text."""
        found = [href for href, _ in anchors(self.html)]
        for url in text_urls(self.text):
            if url not in found:
                found.append(url)
        return found

    def link(self, text: str | None = None, pattern: str | None = None) -> str:
        """The one link whose visible text contains ``text`` (case-insensitive), or whose URL
        matches the regular expression ``pattern``; the only link when neither is given.

        Raises:
            AssertionError: no link, or more than one different link, fits.
        """
        candidates: list[str] = []
        for href, label in anchors(self.html):
            if text is not None and text.casefold() not in label.casefold():
                continue
            if pattern is not None and not re.search(pattern, href):
                continue
            candidates.append(href)
        if text is None:
            candidates += [
                u for u in text_urls(self.text) if pattern is None or re.search(pattern, u)
            ]
        unique = list(dict.fromkeys(candidates))
        if len(unique) == 1:
            return unique[0]
        wanted = (
            " and ".join(
                filter(None, [text and f"text {text!r}", pattern and f"pattern {pattern!r}"])
            )
            or "any"
        )
        listing = "\n".join(f"  {href}  ({label!r})" for href, label in anchors(self.html))
        listing += "".join(f"\n  {u}  (in text)" for u in text_urls(self.text))
        problem = "no link" if not unique else f"{len(unique)} different links"
        raise AssertionError(
            f"{problem} with {wanted} in message {self.subject!r}; its links:\n"
            f"{listing or '  (none)'}"
        )

    def code(self, length: int | None = None) -> str:
        """The one-time code in the message (text body, else the HTML's text).

        Raises:
            AssertionError: no code-like number is there.
        """
        from mailbot_sandbox import html_to_text

        for source in (self.text, html_to_text(self.html), self.subject):
            found = find_code(source, length)
            if found:
                return found
        body = self.text or self.html
        raise AssertionError(f"no one-time code in message {self.subject!r}:\n{body}")

    # -- engagement -----------------------------------------------------------------------------
    def simulate(self, event: str, url: str | None = None) -> Message:
        """Make ``event`` (``delivered``, ``opened``, ``clicked``, ``bounced``,
        ``complained``) happen to this message as the hosted side would report it: the event
        is recorded, webhooks and streams get it, a sent message's ``status`` follows.
        Returns this message, re-read."""
        if self._client is None:
            raise RuntimeError("this message was not read through an inbox of the plugin")
        body: dict[str, Any] = {"event": event}
        if url is not None:
            body["url"] = url
        self.data = self._client.simulate(self.id, body)
        return self

    def open(self) -> Message:
        """The recipient opens this message (``message.opened``)."""
        return self.simulate("opened")

    def click(self, url: str | None = None) -> Message:
        """The recipient clicks ``url`` (by default the message's first link) in this
        message (``message.clicked``)."""
        links = self.links
        return self.simulate("clicked", url or (links[0] if links else None))

    def bounce(self) -> Message:
        """This message bounces (``message.bounced``)."""
        return self.simulate("bounced")

    def complain(self) -> Message:
        """The recipient marks this message as spam (``message.complained``)."""
        return self.simulate("complained")

    def engagement(self) -> dict[str, Any]:
        """This message's engagement timeline: ``status``, ``opens``, ``clicks`` and its
        ``events`` oldest first."""
        if self._client is None:
            raise RuntimeError("this message was not read through an inbox of the plugin")
        return self._client.message_engagement(self.id)

    def __repr__(self) -> str:
        return f"<Message {self.id} from {self.from_address} {self.subject!r}>"

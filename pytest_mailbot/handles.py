"""What the fixtures hand a test: an inbox to wait on and assert about, and its messages.

Waits are server-side long-polls: the request returns the moment matching mail lands. A
failed wait or assertion says what was asked for, lists what did arrive, and where to look.
"""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from datetime import datetime
from email import policy
from email.message import EmailMessage
from functools import cached_property
from typing import Any

from pytest_mailbot.client import MailbotClient
from pytest_mailbot.content import anchors, find_code, text_urls


class MailTimeout(AssertionError):
    """No matching message arrived in time (an AssertionError, so pytest reports it as such)."""


class Attachment:
    """One attachment of a message; ``content`` is fetched on first use."""

    def __init__(self, data: dict[str, Any], loader: Callable[[], bytes]) -> None:
        self.id: str = data["id"]
        self.filename: str = data["filename"]
        self.content_type: str = data["content_type"]
        self.size: int = data["size"]
        self._loader = loader

    @cached_property
    def content(self) -> bytes:
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
    ) -> None:
        self.data = data
        self._raw_loader = raw_loader
        self._attachment_loader = attachment_loader

    # -- fields ---------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def subject(self) -> str:
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
        return str(self.data.get("from_address") or self.data.get("mail_from") or "")

    @property
    def to(self) -> list[str]:
        return list(self.data.get("to_addresses") or [])

    @property
    def cc(self) -> list[str]:
        return list(self.data.get("cc_addresses") or [])

    @property
    def created_at(self) -> str:
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
        return [
            Attachment(item, self._load_attachment(item["id"]))
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

    def __repr__(self) -> str:
        return f"<Message {self.id} from {self.from_address} {self.subject!r}>"


def describe(messages: list[dict[str, Any]]) -> str:
    if not messages:
        return "  (none)"
    return "\n".join(
        f"  {m['created_at']}  {m['direction']:8}  from {m['from_address']}  {m['subject']!r}"
        for m in messages
    )


class Inbox:
    """A sandbox inbox as a test uses it. ``address`` is what the app under test is given."""

    def __init__(
        self, client: MailbotClient, data: dict[str, Any], *, default_timeout: float = 10.0
    ) -> None:
        self._client = client
        self.data = data
        self.default_timeout = default_timeout

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def address(self) -> str:
        return str(self.data["address"])

    @property
    def url(self) -> str:
        """Where to look at this inbox's mail over the API."""
        return f"{self._client.api_url}/inboxes/{self.id}/messages"

    def refresh(self) -> Inbox:
        self.data = self._client.get_inbox(self.id)
        return self

    def _message(self, data: dict[str, Any]) -> Message:
        return Message(
            data,
            raw_loader=lambda: self._client.raw(self.id, data["id"]),
            attachment_loader=lambda aid: self._client.attachment(self.id, data["id"], aid),
        )

    # -- reading --------------------------------------------------------------------------------
    def messages(self, **filters: Any) -> list[Message]:
        """Messages, newest first; filters: direction, thread_id, label, from_address, after."""
        return [self._message(m) for m in self._client.messages(self.id, **filters)]

    def threads(self) -> list[dict[str, Any]]:
        return self._client.threads(self.id)

    def wait_for(
        self,
        *,
        subject_contains: str | None = None,
        from_address: str | None = None,
        direction: str = "inbound",
        after: str | None = None,
        timeout: float | None = None,
    ) -> Message:
        """The matching message, returned the moment it lands (the newest existing one when
        one is already there; with ``after`` — a message id or ISO time — the first after it).

        Raises:
            MailTimeout: nothing matched within ``timeout`` seconds; lists what did arrive.
        """
        timeout = self.default_timeout if timeout is None else timeout
        found = self._client.wait(
            self.id,
            timeout=timeout,
            direction=direction,
            from_address=from_address,
            subject_contains=subject_contains,
            after=after,
        )
        if found is not None:
            return self._message(found)
        wanted = _filters(
            subject_contains=subject_contains,
            from_address=from_address,
            direction=direction,
            after=after,
        )
        raise MailTimeout(
            f"no message with {wanted} arrived in {self.address} within {timeout:g} s.\n"
            f"What is in that inbox (newest first):\n"
            f"{describe(self._client.messages(self.id, limit=10))}\n"
            f"Look at it: {self.url}"
        )

    def assert_received(
        self,
        *,
        subject_contains: str | None = None,
        from_address: str | None = None,
        count: int | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Wait for a matching inbound message; with ``count``, also check exactly that many
        matching messages are there. Returns the newest match."""
        message = self.wait_for(
            subject_contains=subject_contains, from_address=from_address, timeout=timeout
        )
        if count is not None:
            matching = [
                m
                for m in self._client.messages(self.id, direction="inbound")
                if _matches(m, subject_contains, from_address)
            ]
            if len(matching) != count:
                raise AssertionError(
                    f"expected {count} message(s) with "
                    f"{_filters(subject_contains=subject_contains, from_address=from_address)}"
                    f" in {self.address}, found {len(matching)}:\n{describe(matching)}"
                )
        return message

    def assert_no_message(
        self,
        *,
        within: float = 1.0,
        subject_contains: str | None = None,
        from_address: str | None = None,
        direction: str = "inbound",
    ) -> None:
        """Check that no matching message arrives in the next ``within`` seconds (the server
        holds the request that long; nothing sleeps here)."""
        newest = self._client.messages(self.id, limit=1)
        found = self._client.wait(
            self.id,
            timeout=within,
            direction=direction,
            from_address=from_address,
            subject_contains=subject_contains,
            after=newest[0]["id"] if newest else "1970-01-01T00:00:00Z",
        )
        if found is not None:
            raise AssertionError(
                f"expected no message with "
                f"{_filters(subject_contains=subject_contains, from_address=from_address)} in "
                f"{self.address}, but this arrived:\n{describe([found])}"
            )

    # -- writing --------------------------------------------------------------------------------
    def send(
        self, to: str | list[str], subject: str = "", body_text: str | None = None, **fields: Any
    ) -> Message:
        """Send from this inbox (same rules as the API: permission, status, daily limit)."""
        if body_text is None and "body_html" not in fields:
            body_text = ""
        if body_text is not None:
            fields["body_text"] = body_text
        return self._message(self._client.send(self.id, to=to, subject=subject, **fields))

    def reply(self, message: Message | str, **fields: Any) -> Message:
        message_id = message.id if isinstance(message, Message) else message
        return self._message(self._client.reply(self.id, message_id, **fields))

    def __repr__(self) -> str:
        return f"<Inbox {self.address} ({self.id})>"


class Outbox:
    """Mail sent to addresses outside the sandbox (captured, never delivered) since this
    object was made, i.e. during the test."""

    def __init__(self, client: MailbotClient) -> None:
        self._client = client
        newest = client.outbox(limit=1)
        self._before = newest[0]["id"] if newest else None

    def _captured(self, to: str | None = None) -> list[dict[str, Any]]:
        """Captured since the marker, newest first (the list is ordered newest first)."""
        found = []
        for item in self._client.outbox():
            if item["id"] == self._before:
                break
            if to is None or to.lower() in item["recipients"]:
                found.append(item)
        return found

    def messages(self, to: str | None = None) -> list[Message]:
        """Newest first, optionally only those with ``to`` among the recipients."""
        return [Message(item, raw_loader=self._raw(item["id"])) for item in self._captured(to)]

    def _raw(self, captured_id: str) -> Callable[[], bytes]:
        path = f"/sandbox/v1/outbox/{captured_id}/raw"
        return lambda: self._client.request("GET", path).content

    def __len__(self) -> int:
        return len(self._captured())

    def assert_sent(self, *, to: str | None = None, subject_contains: str | None = None) -> Message:
        """The newest captured message matching; AssertionError listing them all if none."""
        found = [
            m
            for m in self.messages(to=to)
            if subject_contains is None or subject_contains.casefold() in m.subject.casefold()
        ]
        if found:
            return found[0]
        everything = self._captured()
        listing = (
            "\n".join(
                f"  {m['created_at']}  to {', '.join(m['recipients'])}  {m['subject']!r}"
                for m in everything
            )
            or "  (none)"
        )
        raise AssertionError(
            f"no captured message with {_filters(to=to, subject_contains=subject_contains)}; "
            f"captured during this test (newest first):\n{listing}"
        )


class Clock:
    """This account's clock: daily limits and thread windows follow it."""

    def __init__(self, client: MailbotClient) -> None:
        self._client = client

    @property
    def now(self) -> datetime:
        # The sandbox writes ISO-8601 UTC with a Z, which fromisoformat reads since 3.11.
        return datetime.fromisoformat(self._client.clock()["now"])

    def advance(
        self, seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> datetime:
        total = seconds + 60 * minutes + 3600 * hours + 86400 * days
        self._client.set_clock(advance_seconds=round(total))
        return self.now

    def set(self, moment: datetime | str) -> datetime:
        self._client.set_clock(now=moment if isinstance(moment, str) else moment.isoformat())
        return self.now

    def reset(self) -> None:
        self._client.set_clock(offset_seconds=0)


def _filters(**given: Any) -> str:
    shown = [f"{name}={value!r}" for name, value in given.items() if value is not None]
    return ", ".join(shown) or "no filter"


def _matches(
    message: dict[str, Any], subject_contains: str | None, from_address: str | None
) -> bool:
    if subject_contains and subject_contains.casefold() not in message["subject"].casefold():
        return False
    return not (from_address and from_address.lower() != message["from_address"].lower())

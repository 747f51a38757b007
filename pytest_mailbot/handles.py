"""What the fixtures hand a test: an inbox to wait on and assert about, and its messages.

Waits are server-side long-polls: the request returns the moment matching mail lands. A
failed wait or assertion says what was asked for, lists what did arrive, and where to look.
"""

from __future__ import annotations

import email
from collections.abc import Callable
from datetime import datetime
from email import policy
from typing import Any

from pytest_mailbot.client import MailbotClient
from pytest_mailbot.message import Attachment, Message

__all__ = ["Attachment", "Clock", "Inbox", "MailTimeout", "Message", "Outbox", "describe"]


class MailTimeout(AssertionError):
    """No matching message arrived in time (an AssertionError, so pytest reports it as such)."""


def describe(messages: list[dict[str, Any]]) -> str:
    """One line per message (time, direction, sender, subject), for failure reports."""
    if not messages:
        return "  (none)"
    return "\n".join(
        f"  {m['created_at']}  {m['direction']:8}  from {m['from_address']}  {m['subject']!r}"
        for m in messages
    )


class Inbox:
    """A sandbox inbox as a test uses it. ``address`` is what the app under test is given."""

    def __init__(
        self,
        client: MailbotClient,
        data: dict[str, Any],
        *,
        default_timeout: float = 10.0,
        linkable: bool = True,
    ) -> None:
        """``linkable``: the sandbox outlives the test run, so a failure may point at
        :attr:`url` (not so for the plugin's in-process sandbox)."""
        self._client = client
        self.data = data
        self.default_timeout = default_timeout
        self.linkable = linkable

    @property
    def id(self) -> str:
        """The inbox id, ``inb_...``."""
        return str(self.data["id"])

    @property
    def address(self) -> str:
        """The email address to give the app under test."""
        return str(self.data["address"])

    @property
    def url(self) -> str:
        """Where to look at this inbox's mail over the API."""
        return f"{self._client.api_url}/inboxes/{self.id}/messages"

    def refresh(self) -> Inbox:
        """Re-read the inbox (status, counters such as ``sends_today``) from the sandbox."""
        self.data = self._client.get_inbox(self.id)
        return self

    def _message(self, data: dict[str, Any]) -> Message:
        return Message(
            data,
            raw_loader=lambda: self._client.raw(self.id, data["id"]),
            attachment_loader=lambda aid: self._client.attachment(self.id, data["id"], aid),
            client=self._client,
        )

    # -- reading --------------------------------------------------------------------------------
    def messages(self, **filters: Any) -> list[Message]:
        """Messages, newest first; filters: direction, thread_id, label, from_address, after."""
        return [self._message(m) for m in self._client.messages(self.id, **filters)]

    def threads(self) -> list[dict[str, Any]]:
        """This inbox's threads, newest first, as the API returns them."""
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
            + (
                f"Look at it: {self.url}"
                if self.linkable
                else "Its messages are saved as .eml files (see the 'mailbot' section below)."
            )
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
        """Reply to ``message`` (a Message or its id) from this inbox; returns the sent copy."""
        message_id = message.id if isinstance(message, Message) else message
        return self._message(self._client.reply(self.id, message_id, **fields))

    def engagement(self, period: str = "7d") -> dict[str, Any]:
        """This inbox's engagement counts and rates over ``period`` (``24h``, ``7d``,
        ``30d``, by the account clock): ``sent``, ``delivered``, ``opened``, ``clicked``,
        ``bounced``, ``complained`` and each ``*_rate``."""
        return self._client.engagement_stats(self.id, period)

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
        return [
            Message(item, self._raw(item["id"]), self._attachment(self._raw(item["id"])))
            for item in self._captured(to)
        ]

    @staticmethod
    def _attachment(raw: Callable[[], bytes]) -> Callable[[str], bytes]:
        """Loads a captured message's attachment, by file name, from its bytes (the outbox
        keeps no attachment rows of its own)."""

        def load(filename: str) -> bytes:
            parsed = email.message_from_bytes(raw(), policy=policy.default)
            for part in parsed.walk():
                if part.get_filename() == filename:
                    payload = part.get_payload(decode=True)
                    return payload if isinstance(payload, bytes) else b""
            return b""

        return load

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
        """The account's current time (UTC)."""
        # The sandbox writes ISO-8601 UTC with a Z, which fromisoformat reads since 3.11.
        return datetime.fromisoformat(self._client.clock()["now"])

    def advance(
        self, seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> datetime:
        """Move the clock forward by the sum of the arguments; returns the new time."""
        total = seconds + 60 * minutes + 3600 * hours + 86400 * days
        self._client.set_clock(advance_seconds=round(total))
        return self.now

    def set(self, moment: datetime | str) -> datetime:
        """Set the clock to ``moment`` (a datetime or ISO-8601 text); returns the new time."""
        self._client.set_clock(now=moment if isinstance(moment, str) else moment.isoformat())
        return self.now

    def reset(self) -> None:
        """Put the clock back to real time."""
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

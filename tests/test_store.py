"""The store's typed rows: what a write hands back is what a later read decodes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailbot_sandbox.config import load_config
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.drafts import NewMessage
from mailbot_sandbox.core.inboxes import NewInbox
from mailbot_sandbox.core.services import Services
from mailbot_sandbox.mail.message import Attachment
from mailbot_sandbox.mail.parse import parse_message
from mailbot_sandbox.store import messages
from mailbot_sandbox.store.messages import MessageFilter


@pytest.fixture
def services() -> Iterator[Services]:
    built = Services(load_config({"db": ":memory:"}, environ={}), primary=False)
    yield built
    built.shutdown()
    built.close()


@pytest.fixture
def account(services: Services) -> Account:
    return services.accounts.for_key("mb_store_rows")


def test_a_sent_copy_as_returned_is_the_copy_as_read_back(
    services: Services, account: Account
) -> None:
    """Stored rows are returned as built, never decoded again: they must match a read."""
    sender = services.inboxes.create(account, NewInbox(username="sender"))
    services.inboxes.create(account, NewInbox(username="peer"))
    peer = services.inboxes.find_by_address(f"peer--{account.short_id}@{sender['domain']}")
    assert peer is not None
    sent = services.delivery.send(
        account,
        sender["id"],
        NewMessage(
            to=[peer["address"], "someone@example.com"],
            subject="Typed rows",
            body_text="hello",
            cc=["cc@example.com"],
            bcc=["hidden@example.com"],
            reply_to=["replies@example.com"],
            labels=["one", "two"],
            attachments=[Attachment("a.txt", "text/plain", b"contents")],
        ),
    )
    assert sent == services.messages.get(account, sender["id"], sent["id"])
    assert sent["bcc_addresses"] == ["hidden@example.com"]
    [attachment] = services.messages.attachments_of([sent["seq"]])[sent["seq"]]
    assert attachment["filename"] == "a.txt" and attachment["size"] == len(b"contents")


def test_a_received_copy_as_returned_is_the_copy_as_read_back(
    services: Services, account: Account
) -> None:
    inbox = services.inboxes.create(account, NewInbox(username="reader"))
    raw = (
        f"From: A <a@example.com>\r\nTo: {inbox['address']}\r\nSubject: In\r\n"
        "Message-ID: <in@example.com>\r\nReferences: <x@example.com> <y@example.com>\r\n"
        "\r\nbody\r\n"
    ).encode()
    services.delivery.receive_smtp("a@example.com", [inbox["address"]], raw, parse_message(raw))
    found = messages.first_match(services.store, MessageFilter(inbox["id"]), newest=True)
    assert found is not None
    assert found["references"] == ["<x@example.com>", "<y@example.com>"]
    assert services.messages.raw(account, inbox["id"], found["id"]) == raw


def test_message_filters_combine(services: Services, account: Account) -> None:
    inbox = services.inboxes.create(account, NewInbox(username="filters"))
    for subject, sender in (("Alpha", "x@example.com"), ("Beta", "y@example.com")):
        raw = f"From: {sender}\r\nTo: {inbox['address']}\r\nSubject: {subject}\r\n\r\nhi\r\n"
        services.delivery.receive_smtp(sender, [inbox["address"]], raw.encode())

    def subjects(match: MessageFilter) -> list[str]:
        rows, _ = messages.message_page(services.store, match, limit=10, offset=0)
        return [row["subject"] for row in rows]

    assert subjects(MessageFilter(inbox["id"])) == ["Beta", "Alpha"]
    assert subjects(MessageFilter(inbox["id"], from_address="X@example.com")) == ["Alpha"]
    assert subjects(MessageFilter(inbox["id"], subject_contains="et")) == ["Beta"]
    assert subjects(MessageFilter(inbox["id"], direction="outbound")) == []

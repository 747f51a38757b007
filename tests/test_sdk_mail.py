"""Every message and thread method of the published mailbot-sdk against the sandbox."""

from __future__ import annotations

import base64
import smtplib
import threading
from collections.abc import Iterator

import pytest
from mailbot import MailBot
from mailbot.exceptions import MailBotError, RateLimitError

from mailbot_sandbox import Sandbox
from tests.helpers import fresh_key, smtp_message, wait_until_parked


@pytest.fixture
def mailbot(sandbox: Sandbox) -> Iterator[MailBot]:
    client = MailBot(api_key=fresh_key(), base_url=sandbox.api_url)
    yield client
    client.close()


def test_support_conversation(mailbot: MailBot) -> None:
    support = mailbot.inboxes.create(username="support", permissions=["send", "receive", "search"])
    customer = mailbot.inboxes.create(username="customer")
    sent = mailbot.messages.send(
        customer["id"],
        to=[support["address"]],
        subject="Broken",
        bodyText="It does not work",
        bodyHtml="<p>It does not work</p>",
        attachments=[{"filename": "log.txt", "content": base64.b64encode(b"trace").decode()}],
    )
    assert sent["direction"] == "outbound"
    waited = mailbot.messages.wait_for(support["id"], subject_contains="broken", timeout_ms=5000)
    incoming = waited["data"]
    assert incoming["body_text"].strip() == "It does not work"
    assert mailbot.messages.get(support["id"], incoming["id"])["id"] == incoming["id"]
    reply = mailbot.messages.reply(support["id"], incoming["id"], body_text="Fixed!")
    assert reply["subject"] == "Re: Broken"
    labelled = mailbot.messages.update_labels(support["id"], incoming["id"], ["resolved"])
    assert labelled["labels"] == ["resolved"]
    found = mailbot.messages.search(support["id"], "broken", limit=5)
    assert [m["id"] for m in found["data"]] == [reply["id"], incoming["id"]]
    listed = mailbot.messages.list(support["id"], direction="inbound")
    assert listed["meta"]["total"] == 1
    threads = mailbot.threads.list(support["id"])
    assert threads["meta"]["total"] == 1
    thread = mailbot.threads.get(support["id"], threads["data"][0]["id"])
    assert [m["direction"] for m in thread["messages"]] == ["inbound", "outbound"]


def test_wait_for_returns_when_smtp_mail_lands(mailbot: MailBot, sandbox: Sandbox) -> None:
    inbox = mailbot.inboxes.create(username="signup")

    def later() -> None:
        wait_until_parked(sandbox.base_url)
        with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
            client.sendmail(
                "app@example.com",
                [inbox["address"]],
                smtp_message("app@example.com", [inbox["address"]], "Verify"),
            )

    thread = threading.Thread(target=later)
    thread.start()
    message = mailbot.messages.wait_for(
        inbox["id"], from_address="app@example.com", timeout_ms=10_000, poll_interval_ms=500
    )["data"]
    thread.join()
    assert message["subject"] == "Verify"


def test_limits_and_permissions_raise_sdk_errors(mailbot: MailBot) -> None:
    inbox = mailbot.inboxes.create(username="capped", daily_send_limit=1)
    mailbot.messages.send(inbox["id"], to="x@example.com", body_text="1")
    with pytest.raises(RateLimitError):
        mailbot.messages.send(inbox["id"], to="x@example.com", body_text="2")
    receive_only = mailbot.inboxes.create(username="ro", permissions=["receive"])
    with pytest.raises(MailBotError) as denied:
        mailbot.messages.send(receive_only["id"], to="x@example.com", body_text="x")
    assert "permission_denied" in str(denied.value)
    with pytest.raises(MailBotError) as no_search:
        mailbot.messages.search(receive_only["id"], "x")
    assert "permission_denied" in str(no_search.value)

"""The inbox and message handles, used through the plugin's own fixtures."""

from __future__ import annotations

import base64
import threading
import time

import pytest

from pytest_mailbot.content import find_code
from pytest_mailbot.handles import Inbox, MailTimeout


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Your verification code is 482913.", "482913"),
        ("Use 123 456 to sign in", "123456"),
        ("On 2026-11-25 at 14:30, call +1 (555) 123-4567. Your code: 9081", "9081"),
        ("Copyright 2026. Code 551100 expires in 10 minutes", "551100"),
        ("Order #2026 shipped; your PIN is 7788", "7788"),
        ("Call 555-123-4567 or enter 246810", "246810"),
        ("Meeting on 25/11/2026, passcode 31415", "31415"),
    ],
)
def test_find_code_ignores_dates_years_and_phones(text: str, code: str) -> None:
    assert find_code(text) == code


def test_find_code_none_and_length() -> None:
    assert find_code("Welcome! See you in 2027.") is None
    assert find_code("ids 1234 and 987654", length=6) == "987654"


def _deliver(inbox: Inbox, sender: Inbox, **fields) -> None:
    fields.setdefault("subject", "Hello")
    sender.send(inbox.address, **fields)


def test_links_and_link_lookup(mailbot_inbox) -> None:
    inbox, app = mailbot_inbox(), mailbot_inbox()
    _deliver(
        inbox,
        app,
        subject="Confirm",
        body_text="Or open https://app.example/help.",
        body_html='<a href="https://app.example/confirm?t=1">Confirm  email</a>'
        '<a href="https://app.example/unsubscribe">Unsubscribe</a>',
    )
    msg = inbox.wait_for(subject_contains="confirm", timeout=5)
    assert msg.links == [
        "https://app.example/confirm?t=1",
        "https://app.example/unsubscribe",
        "https://app.example/help",
    ]
    assert msg.link(text="confirm EMAIL") == "https://app.example/confirm?t=1"
    assert msg.link(pattern=r"/unsub") == "https://app.example/unsubscribe"
    with pytest.raises(AssertionError, match="no link with text 'Reset'"):
        msg.link(text="Reset")
    with pytest.raises(AssertionError, match="3 different links"):
        msg.link()


def test_code_from_html_only_message(mailbot_inbox) -> None:
    inbox, app = mailbot_inbox(), mailbot_inbox()
    _deliver(inbox, app, body_html="<p>Your code is <b>604218</b></p>")
    assert inbox.wait_for(timeout=5).code() == "604218"
    _deliver(inbox, app, subject="No code", body_text="Thanks for joining!")
    with pytest.raises(AssertionError, match="no one-time code"):
        inbox.wait_for(subject_contains="no code", timeout=5).code()


def test_message_fields_headers_raw_and_attachments(mailbot_inbox) -> None:
    inbox, app = mailbot_inbox(), mailbot_inbox(display_name="The App")
    app.send(
        inbox.address,
        subject="Report",
        body_text="see attached",
        cc=["c@example.com"],
        headers={"X-Report": "weekly"},
        attachments=[{"filename": "r.csv", "content": base64.b64encode(b"a,b").decode()}],
    )
    msg = inbox.wait_for(timeout=5)
    assert (msg.subject, msg.text.strip(), msg.from_address) == (
        "Report",
        "see attached",
        app.address,
    )
    assert msg.to == [inbox.address] and msg.cc == ["c@example.com"]
    assert msg.headers["x-report"] == "weekly"
    assert b"Subject: Report" in msg.raw and b"X-Report: weekly" in msg.raw
    [attachment] = msg.attachments
    assert (attachment.filename, attachment.content) == ("r.csv", b"a,b")


def test_assert_received_counts(mailbot_inbox) -> None:
    inbox, app = mailbot_inbox(), mailbot_inbox()
    for _ in range(2):
        _deliver(inbox, app, subject="Digest")
    assert inbox.assert_received(subject_contains="digest", count=2).subject == "Digest"
    with pytest.raises(AssertionError, match=r"expected 1 message.*found 2"):
        inbox.assert_received(subject_contains="digest", count=1)


def test_assert_no_message(mailbot_inbox) -> None:
    inbox, app = mailbot_inbox(), mailbot_inbox()
    _deliver(inbox, app, subject="Already here")
    started = time.monotonic()
    inbox.assert_no_message(within=0.3)  # what was there before does not count
    assert time.monotonic() - started >= 0.25
    later = threading.Timer(0.2, lambda: _deliver(inbox, app, subject="Surprise"))
    later.start()
    with pytest.raises(AssertionError, match=r"(?s)expected no message.*'Surprise'"):
        inbox.assert_no_message(within=5)
    later.join()


def test_wait_for_failure_lists_arrivals(mailbot_inbox) -> None:
    inbox, app = mailbot_inbox(), mailbot_inbox()
    _deliver(inbox, app, subject="Welcome")
    with pytest.raises(MailTimeout) as failure:
        inbox.wait_for(subject_contains="Password reset", timeout=0.2)
    text = str(failure.value)
    assert "subject_contains='Password reset'" in text
    assert f"from {app.address}  'Welcome'" in text
    # This in-process sandbox ends with the run: no link to it, the mail is saved instead.
    assert inbox.url not in text
    assert "saved as .eml files" in text


def test_outbox_fixture_sees_only_this_tests_mail(
    inbox: Inbox, request: pytest.FixtureRequest
) -> None:
    inbox.send("earlier@example.com", subject="Before", body_text="x")
    # The fixture made only now, so the mail above stands for an earlier test's.
    mailbot_outbox = request.getfixturevalue("mailbot_outbox")
    inbox.send("customer@example.com", subject="Receipt #1", body_text="Thanks")
    assert len(mailbot_outbox) == 1
    sent = mailbot_outbox.assert_sent(to="customer@example.com", subject_contains="receipt")
    assert sent.text.strip() == "Thanks" and b"Receipt #1" in sent.raw
    with pytest.raises(AssertionError, match=r"(?s)captured during this test.*Receipt #1"):
        mailbot_outbox.assert_sent(to="nobody@example.com")


def test_clock_fixture_resets_daily_limit(mailbot_inbox, mailbot_clock) -> None:
    from pytest_mailbot.client import MailbotApiError

    inbox = mailbot_inbox(daily_send_limit=1)
    inbox.send("a@example.com", body_text="1")
    with pytest.raises(MailbotApiError) as limited:
        inbox.send("a@example.com", body_text="2")
    assert limited.value.status == 429
    before = mailbot_clock.now
    after = mailbot_clock.advance(days=1)
    assert (after - before).days == 1
    inbox.send("a@example.com", body_text="3")


def test_reply_and_threads(mailbot_inbox) -> None:
    support, customer = mailbot_inbox(), mailbot_inbox()
    customer.send(support.address, subject="Help", body_text="?")
    question = support.wait_for(timeout=5)
    support.reply(question, body_text="Sure")
    answer = customer.wait_for(subject_contains="Re: Help", timeout=5)
    assert answer.text.strip() == "Sure"
    assert len(customer.threads()) == 1 and customer.threads()[0]["message_count"] == 2

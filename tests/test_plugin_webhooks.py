"""The plugin's webhook receiver as users meet it, through inner pytest runs (pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

DELIVER = """
import smtplib
from email.message import EmailMessage

def deliver(sandbox, to, subject):
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("hello")
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port) as client:
        client.send_message(message)
"""


def test_a_signed_delivery_is_received_and_checked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mailhelpers=DELIVER)
    pytester.makepyfile(
        test_inner_hook="""
        import hashlib, hmac
        from mailhelpers import deliver

        def test_received_webhook(inbox, mailbot_sandbox, mailbot_webhook_receiver):
            hook = mailbot_webhook_receiver.subscribe(["received"], inbox)
            deliver(mailbot_sandbox, inbox.address, "Order 42")
            delivery = mailbot_webhook_receiver.wait_for(event="received", timeout=10)
            assert delivery.verified is True
            assert delivery.event == "message.received"
            assert delivery.json["inbox_id"] == inbox.id
            assert delivery.data["subject"] == "Order 42"
            expected = hmac.new(hook["secret"].encode(), delivery.body, hashlib.sha256)
            assert delivery.headers["X-Mailbot-Signature"] == expected.hexdigest()
            assert [d.event for d in mailbot_webhook_receiver.received("message.received")] == [
                "message.received"
            ]

        def test_its_webhooks_are_gone_afterwards(mailbot):
            assert mailbot.request("GET", "/v1/webhooks").json()["data"] == []
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_a_failed_wait_says_what_arrived(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mailhelpers=DELIVER)
    pytester.makepyfile(
        test_inner_wrong="""
        from mailhelpers import deliver

        def test_waits_for_a_bounce(inbox, mailbot_sandbox, mailbot_webhook_receiver):
            mailbot_webhook_receiver.subscribe(["message.received"], inbox)
            deliver(mailbot_sandbox, inbox.address, "Hello")
            mailbot_webhook_receiver.wait_for(event="message.received", timeout=10)
            mailbot_webhook_receiver.wait_for(event="bounced", message_id="msg_x", timeout=0.5)
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no webhook delivery of event message.bounced, message_id=msg_x arrived at "
            "http://127.0.0.1:*/webhooks within 0.5 s; 2 arrived:*",
        ]
    )
    # Listed as they arrived, and up to 4 deliveries to one URL run at once: either order.
    result.stdout.fnmatch_lines(["*webhook.test*signature ok*"])
    result.stdout.fnmatch_lines(["*message.received*inbox=inb_*message=msg_*signature ok*"])


def test_a_wrong_secret_fails_the_wait(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner_secret="""
        import pytest

        def test_wrong_secret(mailbot, mailbot_webhook_receiver):
            hook = mailbot.create_webhook(mailbot_webhook_receiver.url, ["message.received"])
            mailbot_webhook_receiver.add_secret("whsec_not_the_one")
            try:
                with pytest.raises(AssertionError, match="matches none of the 1 known"):
                    mailbot_webhook_receiver.wait_for(timeout=10)  # the test event
            finally:
                mailbot.delete_webhook(hook["id"])
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_a_refused_delivery_comes_back_as_a_retry(pytester: pytest.Pytester) -> None:
    # The README's way to watch retries: the retry scale in the settings, then each attempt
    # is one more delivery in the receiver, with the same X-Mailbot-Delivery.
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def mailbot_sandbox_settings():
            return {"webhook_retry_scale": 0.001}
        """
    )
    pytester.makepyfile(
        test_inner_retry="""
        import pytest
        from pytest_mailbot.webhooks import WebhookTimeout

        def test_retried(inbox, mailbot_webhook_receiver):
            mailbot_webhook_receiver.subscribe(["received"], inbox)
            mailbot_webhook_receiver.wait_for(event="webhook.test")
            mailbot_webhook_receiver.respond_with(500, times=2)
            inbox.send(to=[inbox.address], subject="Retry me", body_text="x")
            made = mailbot_webhook_receiver.wait_for(event="received", count=3, timeout=10)
            attempts = mailbot_webhook_receiver.received("received")
            assert [d.answered for d in attempts] == [500, 500, 200]
            assert len({d.headers["X-Mailbot-Delivery"] for d in attempts}) == 1
            assert made.answered == 200 and made.data["subject"] == "Retry me"
            with pytest.raises(WebhookTimeout, match="only 3 of 4 webhook deliveries"):
                mailbot_webhook_receiver.wait_for(event="received", count=4, timeout=0.3)
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_the_receiver_answers_failures_when_told_and_works_without_pytest() -> None:
    import requests

    from pytest_mailbot.webhooks import WebhookReceiver, WebhookTimeout

    with WebhookReceiver() as receiver:
        receiver.respond_with(500, times=2)
        headers = {"X-Mailbot-Event": "message.bounced"}
        statuses = [
            requests.post(
                receiver.url, data=b'{"message_id": "msg_1"}', headers=headers
            ).status_code
            for _ in range(3)
        ]
        assert statuses == [500, 500, 200]
        third = receiver.wait_for(event="bounced", message_id="msg_1", count=3, timeout=1)
        assert third.verified is None and third.json == {"message_id": "msg_1"}
        assert [d.answered for d in receiver.received()] == [500, 500, 200]
        with pytest.raises(WebhookTimeout, match="3 arrived"):
            receiver.wait_for(event="message.opened", timeout=0.1)
        with pytest.raises(RuntimeError, match="client"):
            receiver.subscribe(["message.received"])


def test_short_names_mean_what_they_mean_to_the_sandbox() -> None:
    import requests

    from pytest_mailbot.webhooks import WebhookReceiver

    with WebhookReceiver() as receiver:
        for event in ("inbox.updated", "domain.verified", "message.received"):
            requests.post(receiver.url, data=b"{}", headers={"X-Mailbot-Event": event})
        assert receiver.wait_for(event="updated", timeout=1).event == "inbox.updated"
        assert [d.event for d in receiver.received("verified")] == ["domain.verified"]
        assert [d.event for d in receiver.received("received")] == ["message.received"]


def test_engagement_helpers_on_sent_messages(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner_engagement="""
        def test_open_click_bounce(mailbot_inbox, mailbot_webhook_receiver):
            sender = mailbot_inbox()
            mailbot_webhook_receiver.subscribe(["opened", "clicked"], sender)
            sent = sender.send(
                "reader@example.com", "News", body_html='<a href="https://a.example/x">x</a>'
            )
            sent.open()
            sent.click()  # the message's first link
            timeline = sent.engagement()
            assert (timeline["opens"], timeline["clicks"]) == (1, 1)
            clicked = [e for e in timeline["events"] if e["event"] == "clicked"]
            assert clicked[0]["url"] == "https://a.example/x"
            delivery = mailbot_webhook_receiver.wait_for(event="clicked", message_id=sent.id)
            assert delivery.verified
            other = sender.send("reader@example.com", "Second", "hi")
            assert other.bounce().data["status"] == "bounced"
            assert sender.send("reader@example.com", "Third", "hi").complain().data["status"] == (
                "complained"
            )
            stats = sender.engagement(period="24h")
            assert (stats["sent"], stats["opened"], stats["bounced"], stats["complained"]) == (
                3, 1, 1, 1
            )
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)

"""The shop's sign-up mail, through Django's own SMTP backend with TLS as in production,
caught by the sandbox."""

from __future__ import annotations

import smtplib

import pytest
from django.core.mail import send_mail


def test_signup_mail_reaches_the_customer(client, mailbot_django_email, inbox) -> None:
    response = client.post("/signup", {"email": inbox.address})
    assert response.json() == {"status": "sent"}
    message = inbox.wait_for(subject_contains="Welcome", timeout=10)
    assert message.from_address == "noreply@shop.example"
    assert message.code() is not None


def test_mail_to_a_real_customer_is_captured(client, mailbot_django_email, mailbot_outbox) -> None:
    client.post("/signup", {"email": "jane@customer.example"})
    captured = mailbot_outbox.assert_sent(to="jane@customer.example", subject_contains="Welcome")
    assert "Your code is" in captured.text


def test_receipts_go_out_over_implicit_tls(mailbot_django_email, inbox) -> None:
    mailbot_django_email.use("ssl")  # EMAIL_USE_SSL on the SMTPS port, verified as by default
    assert send_mail("Receipt", "Thanks", None, [inbox.address]) == 1
    inbox.assert_received(subject_contains="Receipt")


def test_logged_in_as_the_shops_inbox_a_wrong_sender_is_refused(
    mailbot_django_email, mailbot_inbox, settings
) -> None:
    noreply = mailbot_inbox(username="noreply", domain="shop.example", permissions=["send"])
    mailbot_django_email.login_as(noreply)
    assert send_mail("Receipt", "Thanks", None, ["jane@customer.example"]) == 1
    assert noreply.refresh().data["sends_today"] == 1
    settings.DEFAULT_FROM_EMAIL = "Shop <no-reply@shop.example>"  # a typo in production config
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send_mail("Receipt", "Thanks", None, ["jane@customer.example"])
    assert refused.value.smtp_code == 553

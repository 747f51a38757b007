"""Tests of the SMTP reset mailer against the sandbox's SMTP side."""

from __future__ import annotations

import smtplib

import pytest
from reset_app import ResetMailer


def test_reset_mail_arrives_with_its_link(mailbot_env, mailbot_inbox) -> None:
    noreply = mailbot_inbox(username="noreply", domain="shop.example", permissions=["send"])
    customer = mailbot_inbox(permissions=["receive"])
    token = ResetMailer(noreply.address).send_reset(customer.address)
    msg = customer.wait_for(subject_contains="Reset your password", timeout=10)
    assert msg.link(pattern=r"/reset/") == f"https://shop.example/reset/{token}"
    assert msg.headers["From"] == "Example Shop <noreply@shop.example>"
    assert noreply.refresh().data["sends_today"] == 1


def test_the_daily_limit_stops_a_runaway_loop(mailbot_env, mailbot_inbox) -> None:
    noreply = mailbot_inbox(username="noreply", domain="shop.example", daily_send_limit=2)
    customer = mailbot_inbox()
    mailer = ResetMailer(noreply.address)
    mailer.send_reset(customer.address)
    mailer.send_reset(customer.address)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        mailer.send_reset(customer.address)
    assert refused.value.smtp_code == 451
    customer.assert_received(subject_contains="Reset", count=2)


def test_external_customers_are_captured(mailbot_env, mailbot_inbox, mailbot_outbox) -> None:
    noreply = mailbot_inbox(username="noreply", domain="shop.example")
    ResetMailer(noreply.address).send_reset("jane@gmail.example")
    captured = mailbot_outbox.assert_sent(to="jane@gmail.example")
    assert "shop.example/reset/" in captured.text

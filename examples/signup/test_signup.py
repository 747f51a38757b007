"""The sign-up service's own tests, written with the pytest-mailbot fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from signup_app import create_app


@pytest.fixture
def client(mailbot_env: dict[str, str]) -> Iterator[FlaskClient]:
    app = create_app()
    yield app.test_client()
    app.extensions["mailbot"].close()


def test_signup_sends_verification(mailbot_inbox, client: FlaskClient) -> None:
    inbox = mailbot_inbox(permissions=["receive"])  # fresh, unique, cleaned up after
    client.post("/signup", data={"email": inbox.address})
    msg = inbox.wait_for(subject_contains="Verify", timeout=10)
    assert msg.from_address == "onboarding@yourdomain.com"
    link = msg.link(text="Confirm")
    confirmed = client.get(urlsplit(link).path + "?" + urlsplit(link).query)
    assert confirmed.json == {"status": "verified", "email": inbox.address}


def test_the_code_in_the_mail_verifies_too(inbox, client: FlaskClient) -> None:
    client.post("/signup", data={"email": inbox.address})
    code = inbox.wait_for(subject_contains="Verify", timeout=10).code()
    wrong = "111111" if code == "000000" else "000000"
    assert (
        client.post("/verify-code", data={"email": inbox.address, "code": wrong}).status_code == 400
    )
    answer = client.post("/verify-code", data={"email": inbox.address, "code": code})
    assert answer.json["status"] == "verified"


def test_support_answers_each_customer_once(mailbot_inbox, client: FlaskClient) -> None:
    customer = mailbot_inbox()
    support = client.get("/support/address").json["address"]
    customer.send(support, subject="Where is my order?", body_text="Order 1234, please.")
    assert client.post("/support/answer").json == {"answered": 1}
    reply = customer.wait_for(subject_contains="Re: Where is my order?", timeout=10)
    assert "a person will follow up" in reply.text
    assert reply.from_address == "support@yourdomain.com"
    assert client.post("/support/answer").json == {"answered": 0}
    customer.assert_no_message(within=0.5, subject_contains="Re:")


def test_onboarding_cannot_receive_replies(mailbot_inbox, client: FlaskClient, mailbot) -> None:
    customer = mailbot_inbox()
    client.post("/signup", data={"email": customer.address})
    verification = customer.wait_for(subject_contains="Verify", timeout=10)
    bounced = customer.reply(verification, body_text="Who is this?")
    assert bounced.data["status"] == "bounced"  # send-only inbox: no inbound mail

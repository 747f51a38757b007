"""Flask-Mail over the sandbox's SMTP side: no login needed, every recipient caught."""

from __future__ import annotations

from shop_app import create_app


def test_order_confirmation_reaches_the_customer(mailbot_env, inbox) -> None:
    client = create_app().test_client()
    assert client.post("/orders", data={"email": inbox.address}).json == {"status": "confirmed"}
    message = inbox.wait_for(subject_contains="order is confirmed", timeout=10)
    assert message.from_address == "orders@shop.example"
    [attachment] = message.attachments
    assert (attachment.filename, attachment.content) == ("order-1042.txt", b"2 x tea, 31.50 EUR")


def test_a_real_customers_mail_is_captured(mailbot_env, mailbot_outbox) -> None:
    create_app().test_client().post("/orders", data={"email": "sam@customer.example"})
    captured = mailbot_outbox.assert_sent(to="sam@customer.example")
    assert [a.filename for a in captured.attachments] == ["order-1042.txt"]

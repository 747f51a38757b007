"""What real mail clients need from the SMTP side: the catch-all for outside addresses, the
sender check after AUTH, message headers, outbox attachments, a clean banner and login."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from mailbot_sandbox import ConfigError, Sandbox
from tests.helpers import Api, smtp_message


@pytest.fixture
def smtp(sandbox: Sandbox) -> Iterator[smtplib.SMTP]:
    client = smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10)
    yield client
    client.close()


@pytest.fixture
def local(sandbox: Sandbox, make_api) -> Api:
    """The sandbox's local account: where the catch-all keeps mail to outside addresses."""
    assert sandbox.config.catch_all_key is not None
    return make_api(sandbox.config.catch_all_key)


def _captured(local: Api, to: str) -> list[dict]:
    return local.get("/sandbox/v1/outbox", params={"to": to}).json()["data"]


def _with_attachment(sender: str, to: list[str], subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content("See the invoice.")
    message.add_attachment(b"%PDF-1.4 invoice", "application", "pdf", filename="invoice.pdf")
    return message.as_bytes(policy=SMTP)  # CRLF already: smtplib sends these bytes as they are


# -- catch-all ----------------------------------------------------------------------------------
def test_plain_smtp_to_an_outside_address_is_captured_in_the_local_account(
    smtp: smtplib.SMTP, local: Api
) -> None:
    to = "customer.4821@example.com"
    raw = _with_attachment("app@shop.example", [to], "Your invoice")
    refused = smtp.sendmail("app@shop.example", [to], raw)
    assert refused == {}
    [entry] = _captured(local, to)
    assert (entry["inbox_id"], entry["message_id"]) == (None, None)
    assert entry["mail_from"] == "app@shop.example"
    assert entry["recipients"] == [to]
    assert entry["subject"] == "Your invoice"
    assert entry["to_addresses"] == [to]
    assert entry["body_text"].strip() == "See the invoice."
    assert entry["attachments"] == [
        {"filename": "invoice.pdf", "content_type": "application/pdf", "size": 16}
    ]
    assert local.get(f"/sandbox/v1/outbox/{entry['id']}/raw").content == raw


def test_mixed_recipients_all_succeed(smtp: smtplib.SMTP, api: Api, local: Api) -> None:
    inbox = api.create_inbox()
    outside = "partner.7731@example.org"
    raw = smtp_message("app@shop.example", [inbox["address"], outside], "Both of you")
    assert smtp.sendmail("app@shop.example", [inbox["address"], outside], raw) == {}
    listed = api.get(f"/v1/inboxes/{inbox['id']}/messages").json()["data"]
    assert [m["subject"] for m in listed] == ["Both of you"]
    assert [e["subject"] for e in _captured(local, outside)] == ["Both of you"]


def test_the_catch_all_is_not_another_accounts_outbox(smtp: smtplib.SMTP, api: Api) -> None:
    outside = "someone.9102@example.net"
    smtp.sendmail("app@shop.example", [outside], smtp_message("app@shop.example", [outside]))
    assert api.get("/sandbox/v1/outbox", params={"to": outside}).json()["data"] == []


def test_unknown_shared_domain_address_still_bounces(smtp: smtplib.SMTP) -> None:
    smtp.ehlo()
    smtp.mail("app@shop.example")
    code, text = smtp.rcpt("nobody--zzzzzz@mailbot.id")
    assert (code, text) == (
        550,
        b"5.1.1 <nobody--zzzzzz@mailbot.id>: no such inbox in this sandbox",
    )


def test_remaining_refusals_say_what_to_do(smtp: smtplib.SMTP, api: Api) -> None:
    no_receive = api.create_inbox(permissions=["send"])
    smtp.ehlo()
    smtp.mail("app@shop.example")
    code, text = smtp.rcpt(no_receive["address"])
    assert code == 550
    assert text.startswith(b"5.7.1 ") and b"add 'receive' to its permissions" in text
    disabled = api.create_inbox()
    api.patch(f"/v1/inboxes/{disabled['id']}", json={"status": "disabled"})
    code, text = smtp.rcpt(disabled["address"])
    assert code == 550
    assert text.startswith(b"5.2.1 ") and b"takes mail again once it is active" in text


def test_a_database_file_keeps_its_catch_all_key_across_restarts(tmp_path: Path) -> None:
    db = str(tmp_path / "mail.db")
    with Sandbox(db=db) as first:
        key = first.config.catch_all_key
    with Sandbox(db=db) as second:
        assert second.config.catch_all_key == key
    assert key is not None and key.startswith("mb_")
    with Sandbox(db=db, catch_all_key="mb_given") as given:
        assert given.config.catch_all_key == "mb_given"


def test_a_malformed_catch_all_key_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="catch-all key 'oops' is not of the form mb_"):
        Sandbox(catch_all_key="oops")


# -- sender checks after AUTH ------------------------------------------------------------------
def test_logged_in_client_may_not_use_another_envelope_sender(api: Api, sandbox: Sandbox) -> None:
    inbox = api.create_inbox()
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
        client.login(inbox["address"], api.key)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("spoof@elsewhere.example", ["a@example.com"], b"Subject: x\r\n\r\nx")
    assert refused.value.smtp_code == 553
    text = refused.value.smtp_error.decode()
    assert text.startswith("5.7.1 envelope sender <spoof@elsewhere.example> is not")
    assert f"<{inbox['address']}>" in text


def test_logged_in_client_may_not_use_another_from_address(api: Api, sandbox: Sandbox) -> None:
    inbox = api.create_inbox()
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
        client.login(inbox["address"], api.key)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(
                inbox["address"],
                ["a@example.com"],
                smtp_message("Wrong <noreply@shop.example>", ["a@example.com"]),
            )
    assert refused.value.smtp_code == 553
    text = refused.value.smtp_error.decode()
    assert text.startswith("5.7.1 From: address <noreply@shop.example> is not")
    assert f"<{inbox['address']}>" in text
    assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["sends_today"] == 0


def test_the_sender_check_can_be_turned_off(make_api) -> None:
    with Sandbox(smtp_sender_check=False) as relay:
        api = make_api(target=relay)
        inbox = api.create_inbox()
        with smtplib.SMTP(relay.smtp_host, relay.smtp_port, timeout=10) as client:
            client.login(inbox["address"], api.key)
            client.sendmail(
                "bounces@shop.example",
                ["a@example.com"],
                smtp_message("Shop <noreply@shop.example>", ["a@example.com"], "Relayed"),
            )
        [sent] = api.get(f"/v1/inboxes/{inbox['id']}/messages").json()["data"]
        assert (sent["subject"], sent["from_address"]) == ("Relayed", "noreply@shop.example")


# -- banner and login ----------------------------------------------------------------------------
def test_banner_names_the_sandbox_once(sandbox: Sandbox) -> None:
    client = smtplib.SMTP(timeout=10)
    try:
        code, banner = client.connect(sandbox.smtp_host, sandbox.smtp_port)
    finally:
        client.close()
    assert (code, banner) == (220, b"mailbot-sandbox ESMTP")


def test_login_logs_no_deprecation_warning(
    api: Api, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = api.create_inbox()
    with (
        caplog.at_level(logging.WARNING),
        smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client,
    ):
        assert client.login(inbox["address"], api.key)[0] == 235
        client.noop()  # the login was answered: whatever it logs is logged by now
    assert [r.getMessage() for r in caplog.records if "login_data" in r.getMessage()] == []


# -- headers ---------------------------------------------------------------------------------------
def test_message_json_lists_headers_as_received_in_order(smtp: smtplib.SMTP, api: Api) -> None:
    inbox = api.create_inbox()
    raw = (
        "Received: from a.example\r\n"
        "Received: from b.example\r\n"
        f"From: App <app@shop.example>\r\nTo: {inbox['address']}\r\n"
        "Subject: =?utf-8?q?Caf=C3=A9?= menu\r\n"
        "X-Campaign: spring\r\n"
        " -sale\r\n"
        "\r\n"
        "Hello\r\n"
    ).encode()
    smtp.sendmail("app@shop.example", [inbox["address"]], raw)
    [message] = api.get(f"/v1/inboxes/{inbox['id']}/messages").json()["data"]
    assert message["headers"] == [
        ["Received", "from a.example"],
        ["Received", "from b.example"],
        ["From", "App <app@shop.example>"],
        ["To", inbox["address"]],
        ["Subject", "Café menu"],
        ["X-Campaign", "spring -sale"],
    ]
    one = api.get(f"/v1/inboxes/{inbox['id']}/messages/{message['id']}").json()["data"]
    assert one["headers"] == message["headers"]


def test_an_api_send_lists_the_headers_it_was_sent_with(api: Api) -> None:
    inbox = api.create_inbox()
    sent = api.post(
        f"/v1/inboxes/{inbox['id']}/messages",
        json={
            "to": ["a@example.com"],
            "subject": "Hi",
            "body_text": "x",
            "headers": {"X-Ref": "7"},
        },
    ).json()["data"]
    names = [name for name, _ in sent["headers"]]
    assert {"From", "To", "Subject", "Message-ID", "Date", "X-Ref"} <= set(names)
    assert ["Subject", "Hi"] in sent["headers"] and ["X-Ref", "7"] in sent["headers"]


def test_the_console_outbox_shows_catch_all_mail(smtp: smtplib.SMTP, sandbox: Sandbox) -> None:
    from tests.console_pages import Visitor

    to = "console.reader.5531@example.com"
    smtp.sendmail("app@shop.example", [to], smtp_message("app@shop.example", [to], "Caught here"))
    person = Visitor(sandbox.base_url)
    try:
        page = person.page("/outbox")
    finally:
        person.close()
    assert any("Caught here" in row.text for row in page.by_testid("captured-row"))

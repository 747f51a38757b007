"""The SMTP side with smtplib: routing codes, byte-exact storage, odd MIME, submission."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from mailbot_sandbox import Sandbox
from tests.helpers import Api, smtp_message


@pytest.fixture
def smtp(sandbox: Sandbox) -> Iterator[smtplib.SMTP]:
    client = smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10)
    yield client
    client.close()


def _messages(api: Api, inbox: dict) -> list[dict]:
    return api.get(f"/v1/inboxes/{inbox['id']}/messages").json()["data"]


def test_ehlo_advertises_size_smtputf8_and_auth(smtp: smtplib.SMTP) -> None:
    code, _ = smtp.ehlo("client.example")
    assert code == 250
    assert smtp.has_extn("size") and int(smtp.esmtp_features["size"]) == 25 * 1024 * 1024
    assert smtp.has_extn("smtputf8")
    assert "PLAIN" in smtp.esmtp_features["auth"] and "LOGIN" in smtp.esmtp_features["auth"]


def test_delivered_mail_is_visible_when_250_returns_and_byte_exact(api: Api, smtp) -> None:
    inbox = api.create_inbox()
    raw = smtp_message(
        "App <app@example.com>", [inbox["address"]], "Verify your email", "Code: 123456"
    ).replace(b"\n", b"\r\n")
    smtp.sendmail("bounce@example.com", [inbox["address"]], raw)
    messages = _messages(api, inbox)  # no waiting: 250 means committed
    assert len(messages) == 1
    message = messages[0]
    assert (message["subject"], message["from_address"], message["from_name"]) == (
        "Verify your email",
        "app@example.com",
        "App",
    )
    assert message["direction"] == "inbound" and message["status"] == "received"
    stored = api.get(f"/v1/inboxes/{inbox['id']}/messages/{message['id']}/raw").content
    assert stored == raw


def test_one_message_to_several_inboxes_is_stored_once_per_inbox(api: Api, smtp) -> None:
    a, b = api.create_inbox(), api.create_inbox()
    smtp.sendmail(
        "x@example.com", [a["address"], b["address"]], smtp_message("x@example.com", [a["address"]])
    )
    assert len(_messages(api, a)) == len(_messages(api, b)) == 1
    assert _messages(api, a)[0]["id"] != _messages(api, b)[0]["id"]


def test_recipient_addresses_route_case_insensitively(api: Api, smtp) -> None:
    inbox = api.create_inbox()
    smtp.sendmail(
        "x@example.com",
        [inbox["address"].upper()],
        smtp_message("x@example.com", [inbox["address"]]),
    )
    assert len(_messages(api, inbox)) == 1


def test_one_inbox_named_twice_or_in_another_case_gets_one_copy(api: Api, smtp) -> None:
    inbox = api.create_inbox()
    address = inbox["address"]
    refused = smtp.sendmail(
        "x@example.com",
        [address, address, address.upper()],
        smtp_message("x@example.com", [address]),
    )
    assert refused == {}  # every RCPT accepted, as other MTAs do
    assert len(_messages(api, inbox)) == 1


def test_recipients_past_the_cap_are_452_453_and_the_rest_is_delivered(
    api: Api, sandbox: Sandbox
) -> None:
    sender = api.create_inbox()
    outside = [f"r{n}@example.com" for n in range(101)]
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
        client.login(sender["address"], api.key)
        client.mail(sender["address"])
        codes = [client.rcpt(address) for address in outside]
        assert {code for code, _ in codes[:100]} == {250}
        assert codes[100][0] == 452
        assert codes[100][1].startswith(b"4.5.3 too many recipients")
        assert client.data(smtp_message(sender["address"], ["list@example.com"]))[0] == 250
    captured = api.get("/sandbox/v1/outbox").json()["data"][0]
    assert sorted(captured["recipients"]) == sorted(outside[:100])


def test_api_send_past_the_recipient_cap_is_400(api: Api) -> None:
    sender = api.create_inbox()
    response = api.post(
        f"/v1/inboxes/{sender['id']}/messages",
        json={
            "to": [f"t{n}@example.com" for n in range(60)],
            "cc": [f"c{n}@example.com" for n in range(41)],
            "body_text": "hi",
        },
    )
    assert response.status_code == 400
    assert "at most 100" in response.json()["error"]["message"]
    assert api.get(f"/v1/inboxes/{sender['id']}").json()["data"]["sends_today"] == 0


def _rcpt(smtp: smtplib.SMTP, address: str) -> tuple[int, bytes]:
    smtp.ehlo_or_helo_if_needed()
    smtp.mail("x@example.com")
    try:
        return smtp.rcpt(address)
    finally:
        smtp.rset()


def test_unknown_recipient_is_550_511(smtp) -> None:
    code, text = _rcpt(smtp, "nobody--aaaaaa@mailbot.id")
    assert (code, text[:5]) == (550, b"5.1.1")


def test_inbox_without_receive_is_550_571(api: Api, smtp) -> None:
    inbox = api.create_inbox(permissions=["send"])
    code, text = _rcpt(smtp, inbox["address"])
    assert (code, text[:5]) == (550, b"5.7.1")


@pytest.mark.parametrize("status", ["disabled", "suspended"])
def test_inactive_inbox_is_550_521(api: Api, smtp, status: str) -> None:
    inbox = api.create_inbox()
    api.patch(f"/v1/inboxes/{inbox['id']}", json={"status": status})
    code, text = _rcpt(smtp, inbox["address"])
    assert (code, text[:5]) == (550, b"5.2.1")
    assert status.encode() in text


def test_partial_refusal_still_delivers_to_the_others(api: Api, smtp) -> None:
    good = api.create_inbox()
    refused = smtp.sendmail(
        "x@example.com",
        [good["address"], "nobody--aaaaaa@mailbot.id"],
        smtp_message("x@example.com", [good["address"]]),
    )
    assert "nobody--aaaaaa@mailbot.id" in refused
    assert len(_messages(api, good)) == 1


def test_oversized_message_is_552(make_api) -> None:
    with Sandbox(max_message_size=10_000) as small:
        api = make_api(target=small)
        inbox = api.create_inbox()
        with smtplib.SMTP(small.smtp_host, small.smtp_port, timeout=10) as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail(
                    "x@example.com",
                    [inbox["address"]],
                    smtp_message("x@example.com", [inbox["address"]], body="y" * 20_000),
                )
            assert refused.value.smtp_code == 552
        assert _messages(api, inbox) == []


MESSY = {
    "bad charset": b"From: a@example.com\r\nSubject: =?x-unknown?Q?caf=E9?=\r\n"
    b"Content-Type: text/plain; charset=x-unknown\r\n\r\ncaf\xe9\r\n",
    "no headers at all": b"\r\njust a body\r\n",
    "8-bit latin-1 declared utf-8": b"From: a@example.com\r\nSubject: Gr\xfc\xdfe\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n\xe9t\xe9\r\n",
    "nested multipart": (
        b"From: a@example.com\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="OUT"\r\n\r\n--OUT\r\n'
        b'Content-Type: multipart/alternative; boundary="IN"\r\n\r\n--IN\r\n'
        b"Content-Type: text/plain\r\n\r\nplain part\r\n--IN\r\n"
        b"Content-Type: text/html\r\n\r\n<b>html part</b>\r\n--IN--\r\n--OUT\r\n"
        b'Content-Type: application/pdf; name="a.pdf"\r\n'
        b'Content-Disposition: attachment; filename="a.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--OUT--\r\n"
    ),
    "missing boundary end": b"From: a@example.com\r\nContent-Type: multipart/mixed; "
    b'boundary="X"\r\n\r\n--X\r\nContent-Type: text/plain\r\n\r\nhi\r\n',
    "huge header": b"From: a@example.com\r\nX-Huge: " + b"h" * 200_000 + b"\r\n"
    b"Subject: still here\r\n\r\nbody\r\n",
}


@pytest.mark.parametrize("name", sorted(MESSY))
def test_messy_mime_is_stored_and_readable(api: Api, smtp, name: str) -> None:
    inbox = api.create_inbox()
    raw = MESSY[name]
    smtp.sendmail("a@example.com", [inbox["address"]], raw)
    messages = _messages(api, inbox)
    assert len(messages) == 1
    got = api.get(f"/v1/inboxes/{inbox['id']}/messages/{messages[0]['id']}")
    assert got.status_code == 200
    assert api.get(f"/v1/inboxes/{inbox['id']}/messages/{messages[0]['id']}/raw").content == raw
    if name == "nested multipart":
        data = got.json()["data"]
        assert data["body_text"].strip() == "plain part"
        assert data["body_html"].strip() == "<b>html part</b>"
        assert [a["filename"] for a in data["attachments"]] == ["a.pdf"]
    if name == "huge header":
        assert got.json()["data"]["subject"] == "still here"


def test_smtputf8_recipient_and_sender(api: Api, smtp) -> None:
    inbox = api.create_inbox()
    raw = (
        "From: Jöran <jöran@exämple.de>\r\nTo: "
        + inbox["address"]
        + "\r\nSubject: Grüße 👋\r\n\r\nHallo\r\n"
    ).encode()
    smtp.ehlo()
    smtp.sendmail("jöran@exämple.de", [inbox["address"]], raw, mail_options=["SMTPUTF8"])
    message = _messages(api, inbox)[0]
    assert message["subject"] == "Grüße 👋"
    assert message["from_name"] == "Jöran"


# -- submission -----------------------------------------------------------------------------


def test_authenticated_client_sends_from_its_inbox(api: Api, sandbox: Sandbox) -> None:
    sender, receiver = api.create_inbox(), api.create_inbox()
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
        client.login(sender["address"], api.key)
        client.sendmail(
            sender["address"],
            [receiver["address"], "ext@example.com"],
            smtp_message(sender["address"], [receiver["address"]], "Via SMTP"),
        )
    sent = api.get(f"/v1/inboxes/{sender['id']}/messages").json()["data"]
    assert [(m["direction"], m["subject"]) for m in sent] == [("outbound", "Via SMTP")]
    assert sent[0]["bcc_addresses"] == ["ext@example.com"]
    assert _messages(api, receiver)[0]["subject"] == "Via SMTP"
    assert api.get(f"/v1/inboxes/{sender['id']}").json()["data"]["sends_today"] == 1
    assert api.get("/sandbox/v1/outbox").json()["data"][0]["recipients"] == ["ext@example.com"]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_wrong_credentials_are_535(api: Api, sandbox: Sandbox, make_api, mechanism: str) -> None:
    inbox = api.create_inbox()
    for user, password in (
        (inbox["address"], make_api().key),
        (inbox["address"], "nope"),
        ("nobody@example.com", api.key),
    ):
        with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
            client.ehlo()
            client.user, client.password = user, password
            method = client.auth_plain if mechanism == "PLAIN" else client.auth_login
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                client.auth(mechanism, method)
            assert refused.value.smtp_code == 535


def _try_login(client: smtplib.SMTP, user: str, password: str) -> tuple[int, bytes]:
    try:
        return client.login(user, password)
    except smtplib.SMTPAuthenticationError as exc:
        return exc.smtp_code, exc.smtp_error


def test_submission_without_send_permission_is_550(api: Api, sandbox: Sandbox) -> None:
    inbox = api.create_inbox(permissions=["receive"])
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
        client.login(inbox["address"], api.key)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail(
                inbox["address"],
                ["a@example.com"],
                smtp_message(inbox["address"], ["a@example.com"]),
            )
    assert refused.value.smtp_code == 550
    assert b"send" in refused.value.smtp_error


def test_submission_over_the_daily_limit_is_451(api: Api, sandbox: Sandbox) -> None:
    inbox = api.create_inbox(daily_send_limit=1)
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
        client.login(inbox["address"], api.key)
        client.sendmail(
            inbox["address"], ["a@example.com"], smtp_message(inbox["address"], ["a@example.com"])
        )
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(
                inbox["address"],
                ["a@example.com"],
                smtp_message(inbox["address"], ["a@example.com"]),
            )
    assert refused.value.smtp_code == 451
    assert b"4.7.1" in refused.value.smtp_error and b"limit of 1" in refused.value.smtp_error
    assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["sends_today"] == 1

"""Sending through the API: delivery between inboxes, external capture, rules."""

from __future__ import annotations

import base64
import email
from email import policy

import pytest

from tests.helpers import Api, send


def test_send_to_another_inbox_arrives_there_as_inbound(api: Api) -> None:
    sender = api.create_inbox(username="support", display_name="Support Team")
    receiver = api.create_inbox(username="customer")
    sent = send(
        api,
        sender,
        to=receiver["address"],
        subject="Welcome",
        body_text="Hi!",
        body_html="<p>Hi!</p>",
    )
    assert sent["id"].startswith("msg_") and sent["thread_id"].startswith("thr_")
    assert sent["direction"] == "outbound" and sent["status"] == "delivered"
    assert sent["from_address"] == sender["address"] and sent["from_name"] == "Support Team"
    assert sent["to_addresses"] == [receiver["address"]]
    assert sent["message_id_header"].startswith("<") and sent["message_id_header"].endswith(">")
    inbound = api.get(f"/v1/inboxes/{receiver['id']}/messages").json()
    assert inbound["meta"]["total"] == 1
    got = inbound["data"][0]
    assert got["direction"] == "inbound" and got["status"] == "received"
    assert (got["subject"], got["body_text"].strip(), got["body_html"].strip()) == (
        "Welcome",
        "Hi!",
        "<p>Hi!</p>",
    )
    assert got["message_id_header"] == sent["message_id_header"]
    assert got["thread_id"] != sent["thread_id"]  # each inbox has its own thread
    assert "bcc_addresses" not in got


def test_external_recipients_are_captured_not_sent(api: Api) -> None:
    sender = api.create_inbox()
    sent = send(
        api,
        sender,
        to=["someone@example.com"],
        cc="Boss <boss@example.org>",
        bcc=["audit@example.net"],
        subject="Quarterly",
    )
    assert sent["status"] == "sent"
    assert sent["cc_addresses"] == ["boss@example.org"]
    assert sent["bcc_addresses"] == ["audit@example.net"]
    outbox = api.get("/sandbox/v1/outbox").json()
    assert outbox["meta"]["total"] == 1
    captured = outbox["data"][0]
    assert sorted(captured["recipients"]) == [
        "audit@example.net",
        "boss@example.org",
        "someone@example.com",
    ]
    assert captured["message_id"] == sent["id"] and captured["subject"] == "Quarterly"
    raw = api.get(f"/sandbox/v1/outbox/{captured['id']}/raw").content
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None  # never written into the message
    assert (
        api.get("/sandbox/v1/outbox", params={"to": "BOSS@example.org"}).json()["meta"]["total"]
        == 1
    )
    assert (
        api.get("/sandbox/v1/outbox", params={"to": "x@example.org"}).json()["meta"]["total"] == 0
    )


def test_one_message_to_three_recipients_counts_one_send(api: Api) -> None:
    sender = api.create_inbox()
    a, b = api.create_inbox(), api.create_inbox()
    send(api, sender, to=[a["address"], b["address"], "ext@example.com"])
    assert api.get(f"/v1/inboxes/{sender['id']}").json()["data"]["sends_today"] == 1
    for inbox in (a, b):
        assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["message_count"] == 1


def test_attachments_round_trip(api: Api) -> None:
    sender, receiver = api.create_inbox(), api.create_inbox()
    pdf = b"%PDF-1.4 fake\x00\xff"
    send(
        api,
        sender,
        to=receiver["address"],
        attachments=[
            {
                "filename": "invoice.pdf",
                "content_type": "application/pdf",
                "content": base64.b64encode(pdf).decode(),
            },
            {"filename": "notes.txt", "content": base64.b64encode(b"hello").decode()},
        ],
    )
    got = api.get(f"/v1/inboxes/{receiver['id']}/messages").json()["data"][0]
    by_name = {a["filename"]: a for a in got["attachments"]}
    assert by_name["invoice.pdf"]["content_type"] == "application/pdf"
    assert by_name["invoice.pdf"]["size"] == len(pdf)
    assert by_name["notes.txt"]["content_type"] == "text/plain"
    body = api.get(
        f"/v1/inboxes/{receiver['id']}/messages/{got['id']}/attachments/"
        f"{by_name['invoice.pdf']['id']}"
    )
    assert body.content == pdf
    assert body.headers["Content-Type"] == "application/pdf"


def test_custom_headers_reach_the_raw_message(api: Api) -> None:
    sender, receiver = api.create_inbox(), api.create_inbox()
    send(
        api,
        sender,
        to=receiver["address"],
        headers={"X-Campaign": "spring"},
        reply_to="help@example.com",
    )
    got = api.get(f"/v1/inboxes/{receiver['id']}/messages").json()["data"][0]
    raw = api.get(f"/v1/inboxes/{receiver['id']}/messages/{got['id']}/raw")
    assert raw.headers["Content-Type"].startswith("message/rfc822")
    parsed = email.message_from_bytes(raw.content, policy=policy.default)
    assert parsed["X-Campaign"] == "spring"
    assert parsed["Reply-To"] == "help@example.com"
    assert got["reply_to"] == ["help@example.com"]


BAD_SENDS = [
    ({}, "to"),
    ({"to": []}, "to"),
    ({"to": "not-an-address"}, "not-an-address"),
    ({"to": ["ok@example.com", "bad@@example.com"]}, "bad@@example.com"),
    ({"to": "a@example.com", "cc": "nope"}, "nope"),
    ({"to": "a@example.com", "bcc": 5}, "bcc"),
    ({"to": "a@example.com"}, "body_text"),
    ({"to": "a@example.com", "body_text": 5}, "body_text"),
    ({"to": "a@example.com", "body_text": "x", "subject": "a\r\nBcc: x@y.z"}, "subject"),
    ({"to": "a@example.com", "body_text": "x", "headers": {"X-A": "1\r\nBcc: x@y.z"}}, "X-A"),
    ({"to": "a@example.com", "body_text": "x", "headers": {"Bad Name": "v"}}, "header name"),
    ({"to": "a@example.com", "body_text": "x", "headers": {"From": "evil@x.com"}}, "From"),
    ({"to": "a@example.com", "body_text": "x", "headers": ["X-A"]}, "headers"),
    ({"to": "a@example.com", "body_text": "x", "attachments": [{"filename": "a"}]}, "content"),
    (
        {
            "to": "a@example.com",
            "body_text": "x",
            "attachments": [{"filename": "a", "content": "%%%"}],
        },
        "base64",
    ),
    ({"to": "a@example.com", "body_text": "x", "track_opens": "yes"}, "track_opens"),
    ({"to": "a@example.com", "body_text": "x", "labels": "x"}, "labels"),
    ({"to": "a@example.com", "body_text": "x", "priority": "high"}, "priority"),
]


@pytest.mark.parametrize(("body", "named"), BAD_SENDS)
def test_bad_send_is_400_naming_the_problem_and_sends_nothing(
    api: Api, body: dict, named: str
) -> None:
    inbox = api.create_inbox()
    response = api.post(f"/v1/inboxes/{inbox['id']}/messages", json=body)
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]["message"]
    after = api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]
    assert (after["sends_today"], after["message_count"]) == (0, 0)
    assert api.get("/sandbox/v1/outbox").json()["meta"]["total"] == 0


def test_send_without_permission_is_403_and_nothing_is_sent(api: Api) -> None:
    inbox = api.create_inbox(permissions=["receive"])
    response = api.post(
        f"/v1/inboxes/{inbox['id']}/messages", json={"to": "a@example.com", "body_text": "x"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["message_count"] == 0


@pytest.mark.parametrize("status", ["disabled", "suspended"])
def test_inactive_inbox_cannot_send_but_stays_readable(api: Api, status: str) -> None:
    inbox = api.create_inbox()
    other = api.create_inbox()
    send(api, other, to=inbox["address"])
    api.patch(f"/v1/inboxes/{inbox['id']}", json={"status": status})
    response = api.post(
        f"/v1/inboxes/{inbox['id']}/messages", json={"to": "a@example.com", "body_text": "x"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == f"inbox_{status}"
    assert api.get(f"/v1/inboxes/{inbox['id']}/messages").json()["meta"]["total"] == 1


def test_mail_to_inbox_without_receive_bounces(api: Api) -> None:
    sender = api.create_inbox()
    send_only = api.create_inbox(permissions=["send"])
    sent = send(api, sender, to=send_only["address"])
    assert sent["status"] == "bounced"
    assert api.get(f"/v1/inboxes/{send_only['id']}/messages").json()["meta"]["total"] == 0


def test_mail_to_disabled_inbox_and_unknown_shared_address_bounce(api: Api) -> None:
    sender, closed = api.create_inbox(), api.create_inbox()
    api.delete(f"/v1/inboxes/{closed['id']}")
    assert send(api, sender, to=closed["address"])["status"] == "bounced"
    assert send(api, sender, to="nobody--zzzzzz@mailbot.id")["status"] == "bounced"
    assert api.get(f"/v1/inboxes/{closed['id']}/messages").json()["meta"]["total"] == 0


@pytest.mark.parametrize(
    ("local", "status"),
    [("delivered", "delivered"), ("bounce", "bounced"), ("complaint", "complained")],
)
def test_simulator_addresses(api: Api, local: str, status: str) -> None:
    sender = api.create_inbox()
    assert send(api, sender, to=f"{local}@simulator.mailbot.id")["status"] == status


def test_delivery_crosses_accounts_like_the_internet(make_api) -> None:
    alice, bob = make_api(), make_api()
    a_inbox, b_inbox = alice.create_inbox(), bob.create_inbox()
    send(alice, a_inbox, to=b_inbox["address"], subject="From another account")
    got = bob.get(f"/v1/inboxes/{b_inbox['id']}/messages").json()["data"]
    assert [m["subject"] for m in got] == ["From another account"]
    # ...but neither account can read the other's copy.
    assert alice.get(f"/v1/inboxes/{b_inbox['id']}/messages").status_code == 404
    assert bob.get(f"/v1/inboxes/{a_inbox['id']}/messages/{got[0]['id']}").status_code == 404


def test_send_alias_with_inbox_id_in_body(api: Api) -> None:
    inbox = api.create_inbox()
    response = api.post(
        "/v1/messages/send",
        json={"inbox_id": inbox["id"], "to": "x@example.com", "body_text": "hi"},
    )
    assert response.status_code == 201
    assert response.json()["data"]["inbox_id"] == inbox["id"]
    missing = api.post("/v1/messages/send", json={"to": "x@example.com", "body_text": "hi"})
    assert missing.status_code == 400 and "inbox_id" in missing.json()["error"]["message"]


def test_oversized_send_is_413(sandbox, make_api) -> None:
    from mailbot_sandbox import Sandbox

    with Sandbox(max_message_size=64 * 1024) as small:
        api = make_api(target=small)
        inbox = api.create_inbox()
        big = base64.b64encode(b"x" * 100_000).decode()
        response = api.post(
            f"/v1/inboxes/{inbox['id']}/messages",
            json={
                "to": "a@example.com",
                "body_text": "x",
                "attachments": [{"filename": "big.bin", "content": big}],
            },
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["sends_today"] == 0


def test_same_custom_address_in_two_accounts_routes_within_the_senders_account(
    make_api, sandbox
) -> None:
    import smtplib

    alice, bob = make_api(), make_api()
    domain = "twice.example"
    a_support = alice.create_inbox(username="support", domain=domain)
    b_support = bob.create_inbox(username="support", domain=domain)
    a_app = alice.create_inbox(username="app")
    send(alice, a_app, to=f"support@{domain}", subject="for alice")
    assert [
        m["subject"] for m in alice.get(f"/v1/inboxes/{a_support['id']}/messages").json()["data"]
    ] == ["for alice"]
    assert bob.get(f"/v1/inboxes/{b_support['id']}/messages").json()["meta"]["total"] == 0
    # A third account cannot tell which one is meant: the send bounces.
    carol = make_api()
    assert send(carol, carol.create_inbox(), to=f"support@{domain}")["status"] == "bounced"
    # So does plain SMTP, with a reply that says why.
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
        client.ehlo()
        client.mail("x@example.com")
        code, text = client.rcpt(f"support@{domain}")
    assert code == 550 and b"2 sandbox accounts" in text

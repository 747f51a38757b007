"""DKIM: mail from a custom domain is signed with the key its record publishes."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from typing import Any

import dkim

from mailbot_sandbox import Sandbox
from tests.helpers import Api, send, smtp_message


def published(api: Api) -> Callable[..., bytes]:
    """dkimpy's DNS look-up, answered from this account's records in the sandbox's table."""
    records = api.get("/sandbox/v1/dns").json()["data"]

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        wanted = name.decode().rstrip(".").lower()
        found = [r["value"] for r in records if r["type"] == "TXT" and r["name"] == wanted]
        return found[0].encode() if found else b""

    return dnsfunc


def custom_domain_inbox(api: Api, domain: str) -> dict[str, Any]:
    created = api.post("/v1/domains", json={"domain": domain}).json()["data"]
    api.post("/sandbox/v1/dns", json={"records": created["dns_records"]})
    return api.create_inbox(username="signer", domain=domain)


def test_api_sends_from_a_custom_domain_are_signed(api: Api) -> None:
    inbox = custom_domain_inbox(api, "signed.example")
    sent = send(api, inbox, to=["someone@example.com"], subject="Signed")
    raw = api.get(f"/v1/inboxes/{inbox['id']}/messages/{sent['id']}/raw").content
    assert raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=signed.example")
    assert dkim.verify(raw, dnsfunc=published(api))
    tampered = raw.replace(b"Subject: Signed", b"Subject: Changed")
    assert not dkim.verify(tampered, dnsfunc=published(api))


def test_replies_and_smtp_submissions_are_signed(api: Api, sandbox: Sandbox) -> None:
    inbox = custom_domain_inbox(api, "smtp-signed.example")
    raw = smtp_message(inbox["address"], ["someone@example.com"], subject="By SMTP")
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port) as client:
        client.login(inbox["address"], api.key)
        client.sendmail(inbox["address"], ["someone@example.com"], raw)
    listed = api.get(f"/v1/inboxes/{inbox['id']}/messages").json()["data"]
    stored = api.get(f"/v1/inboxes/{inbox['id']}/messages/{listed[0]['id']}/raw").content
    assert stored.startswith(b"DKIM-Signature:")
    assert dkim.verify(stored, dnsfunc=published(api))
    reply = api.post(
        f"/v1/inboxes/{inbox['id']}/messages/{listed[0]['id']}/reply", json={"body_text": "again"}
    )
    assert reply.status_code == 201, reply.text
    replied = api.get(f"/v1/inboxes/{inbox['id']}/messages/{reply.json()['data']['id']}/raw")
    assert dkim.verify(replied.content, dnsfunc=published(api))


def test_shared_domain_mail_is_not_signed(api: Api) -> None:
    inbox = api.create_inbox(username="plain")
    sent = send(api, inbox, to=["someone@example.com"])
    raw = api.get(f"/v1/inboxes/{inbox['id']}/messages/{sent['id']}/raw").content
    assert b"DKIM-Signature" not in raw

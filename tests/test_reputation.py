"""Reputation: an inbox whose mail bounces or draws complaints past the thresholds is
suspended alone, says why in an ``inbox.updated`` event, and is refused over API and SMTP."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from mailbot_sandbox import Sandbox
from mailbot_sandbox.config import load_config
from mailbot_sandbox.errors import ConfigError
from tests.helpers import Api, fresh_key, send, smtp_message

SIMULATOR = "simulator.mailbot.id"


@pytest.fixture(scope="module")
def strict_sandbox() -> Iterator[Sandbox]:
    """A sandbox with a small minimum volume, so a test reaches it in a few sends."""
    with Sandbox(reputation_min_sends=10) as running:
        yield running


def _suspension_events(api: Api, inbox_id: str) -> list[dict]:
    events = api.get("/v1/events", params={"type": "inbox.updated", "inbox_id": inbox_id})
    return [e for e in events.json()["data"] if e["data"]["status"] == "suspended"]


def test_bouncing_inbox_is_suspended_alone_and_refused_over_api_and_smtp(
    strict_sandbox: Sandbox,
) -> None:
    api = Api(strict_sandbox.base_url, fresh_key())
    domain = "shop.example"
    bad, good = api.create_inbox(domain=domain), api.create_inbox(domain=domain)
    for _ in range(8):
        send(api, bad, to=f"delivered@{SIMULATOR}")
    send(api, bad, to=f"bounce@{SIMULATOR}")  # 1 of 9: under the minimum volume
    assert api.get(f"/v1/inboxes/{bad['id']}").json()["data"]["status"] == "active"
    send(api, bad, to=f"bounce@{SIMULATOR}")  # 2 of 10 = 20% > 10%
    assert api.get(f"/v1/inboxes/{bad['id']}").json()["data"]["status"] == "suspended"

    (event,) = _suspension_events(api, bad["id"])
    assert "bounce rate 20.0%" in event["data"]["reason"]
    assert "2 of 10" in event["data"]["reason"]

    refused = api.post(
        f"/v1/inboxes/{bad['id']}/messages", json={"to": "x@example.com", "body_text": "hi"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "inbox_suspended"
    with smtplib.SMTP(strict_sandbox.smtp_host, strict_sandbox.smtp_port, timeout=10) as smtp:
        smtp.login(bad["address"], api.key)
        with pytest.raises(smtplib.SMTPSenderRefused) as smtp_refused:
            smtp.sendmail(bad["address"], ["x@example.com"], smtp_message(bad["address"], []))
        assert smtp_refused.value.smtp_code == 550
        assert b"5.2.1" in smtp_refused.value.smtp_error

    # The other inbox of the same domain and account keeps sending.
    assert send(api, good, to=f"delivered@{SIMULATOR}")["status"] == "delivered"
    assert api.get(f"/v1/inboxes/{good['id']}").json()["data"]["status"] == "active"
    audit = api.get("/v1/audit-log", params={"inbox_id": bad["id"]}).json()["data"]
    assert any(e["metadata"].get("reason") == event["data"]["reason"] for e in audit)
    api.close()


def test_one_complaint_in_the_minimum_volume_suspends(strict_sandbox: Sandbox) -> None:
    api = Api(strict_sandbox.base_url, fresh_key())
    inbox = api.create_inbox()
    sent = [send(api, inbox, to="someone@example.com") for _ in range(10)]
    assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["status"] == "active"
    api.post(f"/sandbox/v1/messages/{sent[0]['id']}/simulate", json={"event": "complained"})
    assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["status"] == "suspended"
    (event,) = _suspension_events(api, inbox["id"])
    assert "complaint rate 10.0%" in event["data"]["reason"]
    api.close()


def test_thresholds_are_settings() -> None:
    with Sandbox(reputation_min_sends=2, reputation_bounce_rate=0.5) as lenient:
        api = Api(lenient.base_url, fresh_key())
        inbox = api.create_inbox()
        send(api, inbox, to=f"delivered@{SIMULATOR}")
        send(api, inbox, to=f"bounce@{SIMULATOR}")  # 50%: not past 50%
        assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["status"] == "active"
        send(api, inbox, to=f"bounce@{SIMULATOR}")  # 67%
        assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["status"] == "suspended"
        api.close()


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("MAILBOT_REPUTATION_BOUNCE_RATE", "1.5", "MAILBOT_REPUTATION_BOUNCE_RATE"),
        ("MAILBOT_REPUTATION_COMPLAINT_RATE", "lots", "MAILBOT_REPUTATION_COMPLAINT_RATE"),
        ("MAILBOT_REPUTATION_MIN_SENDS", "0", "MAILBOT_REPUTATION_MIN_SENDS"),
        ("MAILBOT_PUBLIC_URL", "sandbox.local", "public URL"),
    ],
)
def test_bad_reputation_and_tracking_settings_are_named(
    variable: str, value: str, named: str
) -> None:
    with pytest.raises(ConfigError) as bad:
        load_config(environ={variable: value})
    assert named in str(bad.value)

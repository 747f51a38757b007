"""Events: recorded with the write that causes them, readable at ``GET /v1/events``."""

from __future__ import annotations

from typing import Any

from mailbot_sandbox import Sandbox
from tests.helpers import Api, mail_by_smtp, send, smtp_message


def events_of(api: Api, **query: str) -> list[dict[str, Any]]:
    response = api.get("/v1/events", params={"limit": "100", **query})
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_a_send_records_sent_and_one_outcome_per_recipient(api: Api, sandbox: Sandbox) -> None:
    sender, receiver = api.create_inbox(), api.create_inbox()
    simulator = f"simulator.{sandbox.config.shared_domain}"
    sent = send(
        api,
        sender,
        to=[receiver["address"], f"delivered@{simulator}", f"bounce@{simulator}"],
        cc=[f"complaint@{simulator}", f"nobody--x@{sandbox.config.shared_domain}"],
    )
    outbound = events_of(api, inbox_id=sender["id"])
    types = sorted(e["type"] for e in outbound)
    assert types == [
        "message.bounced",
        "message.bounced",  # bounce@ and the unknown shared-domain address
        "message.complained",
        "message.delivered",
        "message.delivered",
        "message.sent",
    ]
    assert {e["message_id"] for e in outbound} == {sent["id"]}
    assert {e["thread_id"] for e in outbound} == {sent["thread_id"]}
    [received] = events_of(api, inbox_id=receiver["id"])
    assert received["type"] == "message.received"
    copy = api.get(f"/v1/inboxes/{receiver['id']}/messages/{received['message_id']}").json()
    assert received["data"] == copy["data"]  # the object as the API shows it


def test_smtp_and_injected_mail_record_message_received(api: Api, sandbox: Sandbox) -> None:
    inbox = api.create_inbox()
    mail_by_smtp(sandbox, inbox, smtp_message("someone@example.com", [inbox["address"]]))
    injected = api.post(
        f"/sandbox/v1/inboxes/{inbox['id']}/messages",
        json={"from": "a@example.com", "subject": "Injected", "body_text": "x"},
    )
    assert injected.status_code == 201, injected.text
    received = events_of(api, type="received")
    assert [e["data"]["subject"] for e in received] == ["Injected", "Hello"]
    assert {e["inbox_id"] for e in received} == {inbox["id"]}


def test_inbox_changes_and_domain_verification_are_events(api: Api) -> None:
    inbox = api.create_inbox()
    api.patch(f"/v1/inboxes/{inbox['id']}", json={"daily_send_limit": 7})
    api.delete(f"/v1/inboxes/{inbox['id']}")
    api.post(f"/sandbox/v1/inboxes/{inbox['id']}/status", json={"status": "active"})
    updates = events_of(api, type="inbox.updated")
    assert [(e["data"]["status"], e["data"]["daily_send_limit"]) for e in updates] == [
        ("active", 7),
        ("disabled", 7),
        ("active", 7),
    ]
    domain = api.post("/v1/domains", json={"domain": "events.example"}).json()["data"]
    api.post(f"/v1/domains/{domain['id']}/verify")
    api.post(f"/v1/domains/{domain['id']}/verify")  # already verified: no second event
    [verified] = events_of(api, type="domain.verified")
    assert verified["data"]["id"] == domain["id"]
    assert verified["data"]["status"] == "verified"
    assert api.get(f"/v1/events/{verified['id']}").json()["data"] == verified


def test_nothing_is_recorded_when_the_write_is_refused(api: Api) -> None:
    inbox = api.create_inbox(daily_send_limit=1)
    send(api, inbox, to=["someone@example.com"])
    refused = api.post(
        f"/v1/inboxes/{inbox['id']}/messages",
        json={"to": ["someone@example.com"], "subject": "2", "body_text": "x"},
    )
    assert refused.status_code == 429
    assert [e["type"] for e in events_of(api)] == ["message.sent"]


def test_events_are_per_account_and_unknown_types_are_400(api: Api, make_api: Any) -> None:
    send(api, api.create_inbox(), to=["someone@example.com"])
    stranger = make_api()
    assert events_of(stranger) == []
    [event] = events_of(api)
    assert stranger.get(f"/v1/events/{event['id']}").status_code == 404
    bad = api.get("/v1/events", params={"type": "message.exploded"})
    assert bad.status_code == 400
    assert "message.exploded" in bad.json()["error"]["message"]


def test_erasing_an_inbox_or_resetting_takes_its_events_and_webhooks(api: Api) -> None:
    kept, erased = api.create_inbox(), api.create_inbox()
    for inbox in (kept, erased):
        send(api, inbox, to=["someone@example.com"])
        api.post(
            f"/v1/inboxes/{inbox['id']}/webhooks",
            json={"url": "http://a.test/", "events": ["sent"]},
        )
    assert api.delete(f"/sandbox/v1/inboxes/{erased['id']}").status_code == 200
    assert {e["inbox_id"] for e in events_of(api)} == {kept["id"]}
    assert [w["inbox_id"] for w in api.get("/v1/webhooks").json()["data"]] == [kept["id"]]
    assert api.post("/sandbox/v1/reset").status_code == 200
    assert events_of(api) == []
    assert api.get("/v1/webhooks").json()["data"] == []

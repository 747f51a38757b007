"""The audit log over real HTTP and through the published SDK: every change, newest first."""

from __future__ import annotations

from typing import Any

import pytest
from mailbot import MailBot

from mailbot_sandbox import Sandbox
from tests.helpers import Api, fresh_key


def actions(api: Api, **params: Any) -> list[str]:
    body = api.get("/v1/audit-log", params=params).json()
    return [entry["action"] for entry in body["data"]]


def test_a_keys_first_use_creates_the_account(api: Api) -> None:
    body = api.get("/v1/audit-log").json()
    assert body["meta"]["total"] == 1
    (entry,) = body["data"]
    assert entry["action"] == "account.created" and entry["target_type"] == "account"
    assert entry["inbox_id"] is None and entry["created_at"].endswith("Z")
    assert entry["id"].startswith("aud_")


def test_inbox_changes_are_recorded_newest_first(api: Api) -> None:
    inbox = api.create_inbox(username="audited", daily_send_limit=10)
    api.patch(f"/v1/inboxes/{inbox['id']}", json={"daily_send_limit": 20, "labels": ["a"]})
    api.patch(f"/v1/inboxes/{inbox['id']}", json={"display_name": None})  # no change: no entry
    api.post(f"/sandbox/v1/inboxes/{inbox['id']}/status", json={"status": "suspended"})
    api.delete(f"/v1/inboxes/{inbox['id']}")
    entries = api.get("/v1/audit-log", params={"inbox_id": inbox["id"]}).json()["data"]
    assert [e["action"] for e in entries] == [
        "inbox.disabled",
        "inbox.status_changed",
        "inbox.updated",
        "inbox.created",
    ]
    disabled, suspended, updated, created = entries
    assert disabled["metadata"] == {
        "address": inbox["address"],
        "from": "suspended",
        "to": "disabled",
    }
    assert suspended["metadata"]["from"] == "active" and suspended["metadata"]["to"] == "suspended"
    assert updated["metadata"]["changes"] == {
        "daily_send_limit": {"from": 10, "to": 20},
        "labels": {"from": [], "to": ["a"]},
    }
    assert created["metadata"]["address"] == inbox["address"]
    assert all(e["target_type"] == "inbox" and e["target_id"] == inbox["id"] for e in entries)


def test_domain_changes_are_recorded(api: Api) -> None:
    domain = api.post("/v1/domains", json={"domain": "audit.example"}).json()["data"]
    api.post(f"/v1/domains/{domain['id']}/verify")
    api.delete(f"/v1/domains/{domain['id']}")
    assert actions(api, target_type="domain") == [
        "domain.deleted",
        "domain.verified",
        "domain.created",
    ]


def test_a_refused_change_leaves_no_entry(api: Api) -> None:
    api.create_inbox(username="taken")
    assert api.post("/v1/inboxes", json={"username": "taken"}).status_code == 409
    assert actions(api, action="inbox.created") == ["inbox.created"]


def test_control_plane_erasures_are_recorded_and_the_log_survives_a_reset(api: Api) -> None:
    inbox = api.create_inbox(username="erased")
    api.delete(f"/sandbox/v1/inboxes/{inbox['id']}")
    api.post("/sandbox/v1/reset")
    assert actions(api)[:3] == ["account.reset", "inbox.erased", "inbox.created"]


def test_filters_and_pages(api: Api) -> None:
    for name in ("one", "two", "three"):
        api.create_inbox(username=name)
    first = api.get("/v1/audit-log", params={"action": "inbox.created", "limit": 2}).json()
    assert first["meta"] == {"total": 3, "page": 1, "limit": 2, "per_page": 2}
    second = api.get("/v1/audit", params={"action": "inbox.created", "limit": 2, "page": 2})
    assert [e["metadata"]["address"].split("--")[0] for e in first["data"]] == ["three", "two"]
    assert [e["metadata"]["address"].split("--")[0] for e in second.json()["data"]] == ["one"]


@pytest.mark.parametrize("query", ["limit=0", "page=0", "unknown=1"])
def test_bad_query_is_400(api: Api, query: str) -> None:
    assert api.get(f"/v1/audit-log?{query}").status_code == 400


def test_accounts_see_only_their_own_log(make_api) -> None:
    mine, theirs = make_api(), make_api()
    mine.create_inbox(username="private")
    assert actions(theirs) == ["account.created"]


def test_sdk_audit_log(sandbox: Sandbox) -> None:
    client = MailBot(api_key=fresh_key(), base_url=sandbox.api_url)
    try:
        inbox = client.inboxes.create(username="sdk")
        listed = client.audit_log.list(inbox_id=inbox["id"], limit=5)
        assert [e["action"] for e in listed["data"]] == ["inbox.created"]
        assert listed["meta"]["total"] == 1
        assert client.audit_log.list(action="", target_type="")["meta"]["total"] == 2
    finally:
        client.close()


def test_webhook_changes_are_recorded_through_the_sdk(sandbox: Sandbox) -> None:
    client = MailBot(api_key=fresh_key(), base_url=sandbox.api_url)
    try:
        inbox = client.inboxes.create(username="hooked")
        account_wide = client.webhooks.create(url="http://127.0.0.1:9/all", events=["delivered"])
        per_inbox = client.http.request(
            "POST",
            f"/inboxes/{inbox['id']}/webhooks",
            json={"url": "http://127.0.0.1:9/one", "events": ["message.received"]},
        )["data"]
        client.webhooks.delete(account_wide["id"])
        entries = client.audit_log.list(target_type="webhook")["data"]
        assert [(e["action"], e["target_id"], e["inbox_id"]) for e in entries] == [
            ("webhook.deleted", account_wide["id"], None),
            ("webhook.created", per_inbox["id"], inbox["id"]),
            ("webhook.created", account_wide["id"], None),
        ]
        assert entries[1]["metadata"] == {
            "url": "http://127.0.0.1:9/one",
            "events": ["message.received"],
        }
        assert all(per_inbox["secret"] not in str(e) for e in entries)
        by_inbox = client.audit_log.list(inbox_id=inbox["id"])["data"]
        assert [e["action"] for e in by_inbox] == ["webhook.created", "inbox.created"]
    finally:
        client.close()


def test_a_keys_first_use_is_recorded_once_through_the_sdk(sandbox: Sandbox) -> None:
    key = fresh_key()
    for _ in range(2):  # a second client with the same key is the same account
        client = MailBot(api_key=key, base_url=sandbox.api_url)
        try:
            listed = client.audit_log.list(action="account.created")
        finally:
            client.close()
        (entry,) = listed["data"]
        assert entry["target_type"] == "account" and entry["metadata"]["short_id"]

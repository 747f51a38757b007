"""Domains over real HTTP: records, the auto and strict policies, verification, deletion."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailbot_sandbox import Sandbox
from tests.helpers import Api


@pytest.fixture(scope="module")
def strict_sandbox() -> Iterator[Sandbox]:
    with Sandbox(domain_policy="strict") as running:
        yield running


@pytest.fixture
def strict_api(make_api, strict_sandbox: Sandbox) -> Api:
    return make_api(target=strict_sandbox)


def test_create_lists_the_records_to_publish(api: Api) -> None:
    response = api.post("/v1/domains", json={"domain": "Acme.Example"})
    assert response.status_code == 201
    domain = response.json()["data"]
    assert domain["id"].startswith("dom_")
    assert domain["domain"] == "acme.example"
    assert domain["status"] == "pending"
    assert domain["verified_at"] is None
    records = {r["purpose"]: r for r in domain["dns_records"]}
    assert set(records) == {"spf", "dkim", "dmarc", "mx"}
    assert records["spf"]["type"] == "TXT" and records["spf"]["name"] == "acme.example"
    assert records["spf"]["value"].startswith("v=spf1 ")
    assert records["dkim"]["name"] == "mailbot._domainkey.acme.example"
    assert records["dkim"]["value"].startswith("v=DKIM1; k=rsa; p=MII")
    assert records["dmarc"]["name"] == "_dmarc.acme.example"
    assert records["mx"]["priority"] == 10 and records["mx"]["required"] is False
    assert all(r["status"] == "pending" for r in records.values())


def test_get_list_and_duplicate(api: Api) -> None:
    created = api.post("/v1/domains", json={"domain": "dup.example"}).json()["data"]
    assert api.get(f"/v1/domains/{created['id']}").json()["data"] == created
    listing = api.get("/v1/domains").json()
    assert listing["meta"]["total"] == 1 and listing["data"][0]["id"] == created["id"]
    again = api.post("/v1/domains", json={"domain": "DUP.example"})
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"domain": ""}, 400),
        ({"domain": "no_dots"}, 400),
        ({"domain": 3}, 400),
        ({"domain": "ok.example", "extra": 1}, 400),
        ({"domain": "mailbot.id"}, 409),
        ({"domain": "simulator.mailbot.id"}, 409),
    ],
)
def test_bad_domain_input(api: Api, body: dict, status: int) -> None:
    response = api.post("/v1/domains", json=body)
    assert response.status_code == status, response.text
    assert api.get("/v1/domains").json()["meta"]["total"] == 0


def test_auto_policy_verifies_on_request(api: Api) -> None:
    domain = api.post("/v1/domains", json={"domain": "auto.example"}).json()["data"]
    body = api.post(f"/v1/domains/{domain['id']}/verify").json()
    assert body["data"]["status"] == "verified"
    assert body["data"]["spf_verified"] and body["data"]["dkim_verified"]
    assert body["data"]["dmarc_verified"]
    assert body["data"]["verified_at"].endswith("Z")
    assert "next_step" in body


def test_auto_policy_registers_the_domain_of_a_new_inbox(api: Api) -> None:
    api.create_inbox(username="hello", domain="fresh.example")
    domains = api.get("/v1/domains").json()["data"]
    assert [(d["domain"], d["status"]) for d in domains] == [("fresh.example", "verified")]


def test_strict_policy_refuses_inbox_on_unverified_domain(strict_api: Api) -> None:
    response = strict_api.post("/v1/inboxes", json={"username": "a", "domain": "strict.example"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "domain_not_verified"
    assert "strict.example" in response.json()["error"]["message"]
    # The shared domain needs no verification.
    assert strict_api.create_inbox(username="a")["domain"] == "mailbot.id"


def test_strict_verify_fails_until_records_are_published(strict_api: Api) -> None:
    domain = strict_api.post("/v1/domains", json={"domain": "strict.example"}).json()["data"]
    failed = strict_api.post(f"/v1/domains/{domain['id']}/verify").json()
    assert failed["data"]["status"] == "failed"
    assert failed["data"]["spf_verified"] is False
    assert "SPF" in failed["next_step"]

    spf_only = [r for r in domain["dns_records"] if r["purpose"] == "spf"]
    assert strict_api.post("/sandbox/v1/dns", json={"records": spf_only}).status_code == 201
    partial = strict_api.post(f"/v1/domains/{domain['id']}/verify").json()["data"]
    assert (partial["spf_verified"], partial["dkim_verified"]) == (True, False)
    assert partial["status"] == "failed"

    rest = [r for r in domain["dns_records"] if r["purpose"] != "spf"]
    assert strict_api.post("/sandbox/v1/dns", json={"records": rest}).status_code == 201
    verified = strict_api.post(f"/v1/domains/{domain['id']}/verify").json()["data"]
    assert verified["status"] == "verified"
    assert {r["status"] for r in verified["dns_records"]} == {"verified"}
    inbox = strict_api.create_inbox(username="sales", domain="strict.example")
    assert inbox["address"] == "sales@strict.example"


def test_strict_verify_rejects_a_wrong_dkim_key(strict_api: Api) -> None:
    domain = strict_api.post("/v1/domains", json={"domain": "wrongkey.example"}).json()["data"]
    records = [dict(r) for r in domain["dns_records"]]
    for record in records:
        if record["purpose"] == "dkim":
            record["value"] = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwrong"
    strict_api.post("/sandbox/v1/dns", json={"records": records})
    result = strict_api.post(f"/v1/domains/{domain['id']}/verify").json()["data"]
    assert result["dkim_verified"] is False and result["spf_verified"] is True
    assert result["status"] == "failed"


def test_published_records_are_per_account(make_api, strict_sandbox: Sandbox) -> None:
    publisher, other = make_api(target=strict_sandbox), make_api(target=strict_sandbox)
    domain = publisher.post("/v1/domains", json={"domain": "mine.example"}).json()["data"]
    publisher.post("/sandbox/v1/dns", json={"records": domain["dns_records"]})
    theirs = other.post("/v1/domains", json={"domain": "mine.example"}).json()["data"]
    result = other.post(f"/v1/domains/{theirs['id']}/verify").json()["data"]
    assert result["status"] == "failed"
    assert other.get("/sandbox/v1/dns").json()["data"] == []


def test_delete_refused_while_an_active_inbox_uses_it(api: Api) -> None:
    inbox = api.create_inbox(username="x", domain="inuse.example")
    domain = api.get("/v1/domains").json()["data"][0]
    refused = api.delete(f"/v1/domains/{domain['id']}")
    assert refused.status_code == 409
    assert "active inbox" in refused.json()["error"]["message"]
    api.delete(f"/v1/inboxes/{inbox['id']}")
    deleted = api.delete(f"/v1/domains/{domain['id']}")
    assert deleted.status_code == 200
    assert deleted.json()["data"]["domain"] == "inuse.example"
    assert api.get(f"/v1/domains/{domain['id']}").status_code == 404


def test_another_accounts_domain_is_404(make_api) -> None:
    owner, stranger = make_api(), make_api()
    domain = owner.post("/v1/domains", json={"domain": "private.example"}).json()["data"]
    for method in ("get", "delete"):
        assert getattr(stranger, method)(f"/v1/domains/{domain['id']}").status_code == 404
    assert stranger.post(f"/v1/domains/{domain['id']}/verify").status_code == 404
    assert owner.get(f"/v1/domains/{domain['id']}").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"records": []},
        {"records": [{"type": "A"}]},
        {"records": [{"type": "TXT", "name": "x.example"}]},
        {"records": "nope"},
    ],
)
def test_bad_dns_records_are_400(api: Api, body: dict) -> None:
    response = api.post("/sandbox/v1/dns", json=body)
    assert response.status_code == 400
    assert api.get("/sandbox/v1/dns").json()["data"] == []

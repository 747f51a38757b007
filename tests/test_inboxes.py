"""Inboxes over real HTTP: creation rules, every validation, listing, changes, isolation."""

from __future__ import annotations

import pytest

from tests.helpers import Api


def test_create_with_defaults_on_the_shared_domain(api: Api) -> None:
    response = api.post("/v1/inboxes", json={"username": "Support.Team"})
    assert response.status_code == 201
    inbox = response.json()["data"]
    assert inbox["id"].startswith("inb_")
    assert inbox["account_id"].startswith("acc_")
    assert inbox["username"] == "support.team"
    short = inbox["address"].split("--")[1].split("@")[0]
    assert len(short) == 6 and short.isalnum() and short == short.lower()
    assert inbox["address"] == f"support.team--{short}@mailbot.id"
    assert inbox["domain"] == "mailbot.id"
    assert inbox["status"] == "active"
    assert inbox["permissions"] == ["send", "receive", "search"]
    assert inbox["daily_send_limit"] == 250
    assert inbox["sends_today"] == 0
    assert inbox["labels"] == []
    assert inbox["created_at"].endswith("Z") and "T" in inbox["created_at"]


def test_create_on_custom_domain_uses_plain_address(api: Api) -> None:
    inbox = api.create_inbox(
        username="billing",
        domain="Example-Shop.com",
        display_name="Billing",
        daily_send_limit=200,
        permissions=["receive", "send"],
        labels=["finance"],
    )
    assert inbox["address"] == "billing@example-shop.com"
    assert inbox["domain"] == "example-shop.com"
    assert inbox["display_name"] == "Billing"
    assert inbox["permissions"] == ["send", "receive"]
    assert inbox["daily_send_limit"] == 200
    assert inbox["labels"] == ["finance"]


def test_two_accounts_get_different_shared_addresses(make_api) -> None:
    first = make_api().create_inbox(username="support")
    second = make_api().create_inbox(username="support")
    assert first["address"] != second["address"]


def test_same_address_twice_is_409(api: Api) -> None:
    api.create_inbox(username="dup")
    response = api.post("/v1/inboxes", json={"username": "DUP"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert "already exists" in response.json()["error"]["message"]


def test_custom_domain_address_may_exist_once_per_account(make_api) -> None:
    first, second = make_api(), make_api()
    a = first.create_inbox(username="hello", domain="shared-brand.test")
    b = second.create_inbox(username="hello", domain="shared-brand.test")
    assert a["address"] == b["address"] == "hello@shared-brand.test"
    assert (
        first.post(
            "/v1/inboxes", json={"username": "hello", "domain": "shared-brand.test"}
        ).status_code
        == 409
    )


BAD_CREATE = [
    ({}, "username"),
    ({"username": None}, "username"),
    ({"username": ""}, "username"),
    ({"username": 5}, "username"),
    ({"username": "has space"}, "username"),
    ({"username": "ünïcode"}, "username"),
    ({"username": ".dot"}, "username"),
    ({"username": "dot."}, "username"),
    ({"username": "a@b"}, "username"),
    ({"username": "x" * 65}, "username"),
    ({"username": "x" * 10_000}, "username"),
    ({"username": "ok", "daily_send_limit": 0}, "daily_send_limit"),
    ({"username": "ok", "daily_send_limit": 10_001}, "daily_send_limit"),
    ({"username": "ok", "daily_send_limit": -1}, "daily_send_limit"),
    ({"username": "ok", "daily_send_limit": "5"}, "daily_send_limit"),
    ({"username": "ok", "daily_send_limit": 5.5}, "daily_send_limit"),
    ({"username": "ok", "daily_send_limit": True}, "daily_send_limit"),
    ({"username": "ok", "daily_send_limit": None}, "daily_send_limit"),
    ({"username": "ok", "permissions": []}, "permissions"),
    ({"username": "ok", "permissions": ["send", "fly"]}, "permissions"),
    ({"username": "ok", "permissions": "send"}, "permissions"),
    ({"username": "ok", "permissions": [1]}, "permissions"),
    ({"username": "ok", "domain": "not a domain"}, "domain"),
    ({"username": "ok", "domain": "localhost"}, "domain"),
    ({"username": "ok", "domain": 7}, "domain"),
    ({"username": "ok", "domain": "a" * 10_000 + ".com"}, "domain"),
    ({"username": "ok", "display_name": "x" * 10_000}, "display_name"),
    ({"username": "ok", "display_name": "Evil\r\nBcc: x@y.z"}, "display_name"),
    ({"username": "ok", "display_name": 12}, "display_name"),
    ({"username": "ok", "labels": "vip"}, "labels"),
    ({"username": "ok", "labels": [""]}, "labels"),
    ({"username": "ok", "status": "active"}, "status"),
    ({"username": "ok", "colour": "blue"}, "colour"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CREATE)
def test_bad_create_input_is_400_naming_the_field(api: Api, body: dict, field: str) -> None:
    before = api.get("/v1/inboxes").json()["meta"]["total"]
    response = api.post("/v1/inboxes", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["message"]
    assert api.get("/v1/inboxes").json()["meta"]["total"] == before


def test_limit_bounds_are_accepted(api: Api) -> None:
    assert api.create_inbox(daily_send_limit=1)["daily_send_limit"] == 1
    assert api.create_inbox(daily_send_limit=10_000)["daily_send_limit"] == 10_000


def test_the_products_own_example_runs_unchanged(api: Api) -> None:
    plan = {
        "onboarding": (["send"], 500),
        "support": (["send", "receive", "search"], 1000),
        "notifications": (["send"], 5000),
        "billing": (["send", "receive"], 200),
        "testing": (["send", "receive", "search"], 50),
    }
    domain = "yourdomain.com"  # the example's own domain: unique per account, not globally
    for name, (permissions, limit) in plan.items():
        api.create_inbox(
            username=name, domain=domain, permissions=permissions, daily_send_limit=limit
        )
    listed = api.get("/v1/inboxes").json()
    assert listed["meta"]["total"] == 5
    by_name = {inbox["username"]: inbox for inbox in listed["data"]}
    assert by_name["notifications"]["daily_send_limit"] == 5000
    assert by_name["onboarding"]["permissions"] == ["send"]
    assert by_name["support"]["address"] == f"support@{domain}"


def test_list_is_newest_first_and_paginated(api: Api) -> None:
    made = [api.create_inbox(username=f"p{i}") for i in range(5)]
    page1 = api.get("/v1/inboxes", params={"limit": 2}).json()
    page3 = api.get("/v1/inboxes", params={"limit": 2, "page": 3}).json()
    assert [i["username"] for i in page1["data"]] == ["p4", "p3"]
    assert page1["meta"] == {"total": 5, "page": 1, "limit": 2, "per_page": 2}
    assert [i["id"] for i in page3["data"]] == [made[0]["id"]]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "x"},
        {"page": 0},
        {"page": "two"},
        {"status": "sleeping"},
    ],
)
def test_bad_list_params_are_400(api: Api, params: dict) -> None:
    response = api.get("/v1/inboxes", params=params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()["error"]["message"]


def test_empty_query_params_mean_absent(api: Api) -> None:
    api.create_inbox()
    response = api.get("/v1/inboxes?status=&domain=&page=&limit=")
    assert response.status_code == 200
    assert response.json()["meta"]["total"] == 1


def test_list_filters_by_status_and_domain(api: Api) -> None:
    a = api.create_inbox(domain="one.test")
    b = api.create_inbox()
    api.delete(f"/v1/inboxes/{b['id']}")
    only_disabled = api.get("/v1/inboxes", params={"status": "disabled"}).json()["data"]
    only_domain = api.get("/v1/inboxes", params={"domain": "ONE.test"}).json()["data"]
    assert [i["id"] for i in only_disabled] == [b["id"]]
    assert [i["id"] for i in only_domain] == [a["id"]]


def test_get_patch_and_delete(api: Api) -> None:
    inbox = api.create_inbox(username="ops")
    got = api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]
    assert got == inbox
    changed = api.patch(
        f"/v1/inboxes/{inbox['id']}",
        json={
            "display_name": "Ops",
            "daily_send_limit": 42,
            "permissions": ["search"],
            "labels": ["a", "b", "a"],
            "status": "suspended",
        },
    )
    assert changed.status_code == 200
    data = changed.json()["data"]
    assert (
        data["display_name"],
        data["daily_send_limit"],
        data["permissions"],
        data["labels"],
        data["status"],
    ) == ("Ops", 42, ["search"], ["a", "b"], "suspended")
    assert data["address"] == inbox["address"]
    deleted = api.delete(f"/v1/inboxes/{inbox['id']}")
    assert deleted.status_code == 200
    assert deleted.json()["data"]["status"] == "disabled"
    # Disabled, not erased: still readable.
    assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["status"] == "disabled"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "nothing to change"),
        ({"address": "x@y.z"}, "address"),
        ({"daily_send_limit": 0}, "daily_send_limit"),
        ({"status": "deleted"}, "status"),
        ({"permissions": []}, "permissions"),
    ],
)
def test_bad_patch_is_400_and_changes_nothing(api: Api, body: dict, field: str) -> None:
    inbox = api.create_inbox()
    response = api.patch(f"/v1/inboxes/{inbox['id']}", json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]
    assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"] == inbox


def test_status_of_one_inbox_does_not_touch_another(api: Api) -> None:
    a, b = api.create_inbox(), api.create_inbox()
    api.patch(f"/v1/inboxes/{a['id']}", json={"status": "suspended"})
    assert api.get(f"/v1/inboxes/{a['id']}").json()["data"]["status"] == "suspended"
    assert api.get(f"/v1/inboxes/{b['id']}").json()["data"]["status"] == "active"


def test_another_accounts_inbox_is_404_everywhere(make_api) -> None:
    owner, stranger = make_api(), make_api()
    inbox = owner.create_inbox()
    path = f"/v1/inboxes/{inbox['id']}"
    for response in (
        stranger.get(path),
        stranger.patch(path, json={"display_name": "x"}),
        stranger.delete(path),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert stranger.get("/v1/inboxes").json()["meta"]["total"] == 0
    assert owner.get(path).json()["data"]["status"] == "active"


def test_unknown_inbox_is_404(api: Api) -> None:
    response = api.get("/v1/inboxes/inb_doesnotexist")
    assert response.status_code == 404
    assert "inb_doesnotexist" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "limit", [20.0, 20.5, True, "20"], ids=["whole-float", "float", "bool", "str"]
)
def test_daily_send_limit_must_be_a_json_integer(api: Api, limit: object) -> None:
    response = api.post("/v1/inboxes", json={"username": "limits", "daily_send_limit": limit})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == "daily_send_limit"

"""Daily send limits: exact under concurrency, reset at the account clock's midnight."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.helpers import Api, send


def test_over_the_limit_is_429_with_retry_after_and_nothing_sent(api: Api) -> None:
    inbox = api.create_inbox(daily_send_limit=2)
    send(api, inbox, to="a@example.com")
    send(api, inbox, to="a@example.com")
    response = api.post(
        f"/v1/inboxes/{inbox['id']}/messages", json={"to": "a@example.com", "body_text": "third"}
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "daily_send_limit_exceeded"
    assert "daily send limit of 2" in response.json()["error"]["message"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 86_400
    after = api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]
    assert (after["sends_today"], after["message_count"]) == (2, 2)
    assert api.get("/sandbox/v1/outbox").json()["meta"]["total"] == 2


def test_limit_resets_at_the_next_utc_midnight_of_the_account_clock(api: Api) -> None:
    inbox = api.create_inbox(daily_send_limit=1)
    send(api, inbox, to="a@example.com")
    blocked = api.post(
        f"/v1/inboxes/{inbox['id']}/messages", json={"to": "a@example.com", "body_text": "x"}
    )
    seconds = int(blocked.headers["Retry-After"])
    api.post("/sandbox/v1/clock", json={"advance_seconds": seconds - 5})
    still = api.post(
        f"/v1/inboxes/{inbox['id']}/messages", json={"to": "a@example.com", "body_text": "x"}
    )
    assert still.status_code == 429
    api.post("/sandbox/v1/clock", json={"advance_seconds": 10})
    assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["sends_today"] == 0
    send(api, inbox, to="a@example.com")


def test_each_inbox_counts_its_own_sends(api: Api) -> None:
    tight, roomy = api.create_inbox(daily_send_limit=1), api.create_inbox(daily_send_limit=5)
    send(api, tight, to="a@example.com")
    assert (
        api.post(
            f"/v1/inboxes/{tight['id']}/messages", json={"to": "a@example.com", "body_text": "x"}
        ).status_code
        == 429
    )
    for _ in range(3):
        send(api, roomy, to="a@example.com")
    assert api.get(f"/v1/inboxes/{roomy['id']}").json()["data"]["sends_today"] == 3


def test_fifty_racing_senders_against_a_limit_of_twenty(api: Api) -> None:
    inbox = api.create_inbox(daily_send_limit=20)
    url = f"{api.base_url}/v1/inboxes/{inbox['id']}/messages"

    def attempt(index: int) -> int:
        with requests.Session() as session:
            return session.post(
                url,
                json={"to": "a@example.com", "body_text": str(index)},
                headers={"Authorization": f"Bearer {api.key}"},
                timeout=30,
            ).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(attempt, range(50)))
    assert statuses.count(201) == 20
    assert statuses.count(429) == 30
    data = api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]
    assert (data["sends_today"], data["message_count"]) == (20, 20)


def test_raising_the_limit_lets_sending_continue(api: Api) -> None:
    inbox = api.create_inbox(daily_send_limit=1)
    url = f"/v1/inboxes/{inbox['id']}/messages"
    send(api, inbox, to="a@example.com")
    assert api.post(url, json={"to": "a@example.com", "body_text": "x"}).status_code == 429
    api.patch(f"/v1/inboxes/{inbox['id']}", json={"daily_send_limit": 2})
    send(api, inbox, to="a@example.com")  # fails the test unless it is accepted
    assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["sends_today"] == 2


def test_clock_control(api: Api) -> None:
    clock = api.get("/sandbox/v1/clock").json()["data"]
    assert clock["offset_seconds"] == 0 and clock["now"].endswith("Z")
    moved = api.post("/sandbox/v1/clock", json={"now": "2030-01-01T00:00:00Z"}).json()["data"]
    assert moved["now"].startswith("2030-01-01T00:00:0")
    inbox = api.create_inbox()
    assert inbox["created_at"].startswith("2030-01-01")
    api.post("/sandbox/v1/clock", json={"offset_seconds": 0})
    for bad in (
        {},
        {"now": "soon"},
        {"advance_seconds": 1.5},
        {"now": "2030-01-01", "offset_seconds": 1},
    ):
        assert api.post("/sandbox/v1/clock", json=bad).status_code == 400


def test_clock_is_per_account(make_api) -> None:
    mover, other = make_api(), make_api()
    moved = mover.post("/sandbox/v1/clock", json={"advance_seconds": 86_400 * 3})
    assert moved.json()["data"]["offset_seconds"] == 86_400 * 3
    assert mover.get("/sandbox/v1/clock").json()["data"]["offset_seconds"] == 86_400 * 3
    assert other.get("/sandbox/v1/clock").json()["data"]["offset_seconds"] == 0

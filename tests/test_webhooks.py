"""Webhooks over real HTTP: subscriptions, signed deliveries to a local receiver, retries,
the attempt log, replays, and which subscribers hear which events."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlite_utils
from mailbot import MailBot

from mailbot_sandbox import Sandbox
from mailbot_sandbox.store.schema import MIGRATIONS
from tests.helpers import (
    Api,
    closed_port_url,
    deliveries,
    fresh_key,
    metric,
    send,
    subscribe,
    wait_until,
)
from tests.receiver import Receiver


def verify_webhook(body: bytes, signature: str, secret: str) -> bool:
    """The check the mailbot-sdk README gives, verbatim."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def test_create_list_get_delete(api: Api) -> None:
    inbox = api.create_inbox()
    made = subscribe(api, "https://app.example/hooks", ["delivered", "message.sent"])
    assert made["id"].startswith("whk_") and made["secret"].startswith("whsec_")
    assert made["events"] == ["message.delivered", "message.sent"]
    assert made["active"] is True and made["inbox_id"] is None
    own = api.post(
        f"/v1/inboxes/{inbox['id']}/webhooks", json={"url": "http://x.test/", "events": ["sent"]}
    )
    assert own.status_code == 201 and own.json()["data"]["inbox_id"] == inbox["id"]
    assert [w["id"] for w in api.get("/v1/webhooks").json()["data"]] == [
        made["id"],
        own.json()["data"]["id"],
    ]
    assert api.get(f"/v1/webhooks/{made['id']}").json()["data"] == made
    assert api.delete(f"/v1/webhooks/{made['id']}").json()["data"]["id"] == made["id"]
    assert api.get(f"/v1/webhooks/{made['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"url": "https://a.example/", "events": ["delivered", "exploded"]}, "exploded"),
        ({"url": "https://a.example/", "events": []}, "events"),
        ({"url": "ftp://a.example/", "events": ["sent"]}, "url"),
        ({"url": "not a url", "events": ["sent"]}, "url"),
        ({"url": "http://a.example:99999/", "events": ["sent"]}, "url"),
    ],
)
def test_bad_webhooks_are_400_naming_the_problem(api: Api, body: dict, named: str) -> None:
    response = api.post("/v1/webhooks", json=body)
    assert response.status_code == 400
    assert named in response.json()["error"]["message"]


def test_another_accounts_inbox_or_webhook_is_404(api: Api, make_api: Callable[..., Api]) -> None:
    inbox = api.create_inbox()
    made = subscribe(api, "https://a.example/", ["sent"])
    stranger = make_api()
    body = {"url": "https://b.example/", "events": ["sent"]}
    assert stranger.post(f"/v1/inboxes/{inbox['id']}/webhooks", json=body).status_code == 404
    assert stranger.delete(f"/v1/webhooks/{made['id']}").status_code == 404
    assert stranger.get(f"/v1/webhooks/{made['id']}/deliveries").status_code == 404


def test_signed_deliveries_reach_the_receiver(api: Api) -> None:
    inbox = api.create_inbox()
    with Receiver() as receiver:
        hook = subscribe(api, receiver.url, ["sent", "received"])
        [test] = receiver.events("webhook.test")
        assert test.json["data"]["webhook_id"] == hook["id"]
        sent = send(api, inbox, to=[inbox["address"]])
        [delivery] = receiver.events("message.sent")
        [receipt] = receiver.events("message.received")
    for arrived in (test, delivery, receipt):
        headers = arrived.headers
        assert verify_webhook(arrived.body, headers["X-Mailbot-Signature"], hook["secret"])
        assert headers["X-Mailbot-Delivery"].startswith("dlv_")
        assert int(headers["X-Mailbot-Timestamp"]) > 0
        assert b": " not in arrived.body  # compact JSON
    payload = delivery.json
    assert payload["id"] == payload["event_id"] and payload["id"].startswith("evt_")
    assert payload["type"] == payload["event"] == payload["event_type"] == "message.sent"
    assert (payload["inbox_id"], payload["message_id"]) == (inbox["id"], sent["id"])
    assert payload["thread_id"] == sent["thread_id"]
    assert payload["data"]["subject"] == "Hello" and payload["created_at"].endswith("Z")
    # The receiver has the request before the sandbox has its answer logged.
    wait_until(lambda: {d["status"] for d in deliveries(api, hook)} == {"succeeded"})
    logged = deliveries(api, hook)
    assert len(logged) == 3
    assert {a["status_code"] for d in logged for a in d["attempts"]} == {200}


def test_events_reach_only_their_inbox_and_account(api: Api, make_api: Callable[..., Api]) -> None:
    one, two = api.create_inbox(), api.create_inbox()
    stranger = make_api()
    with Receiver() as everything, Receiver() as only_one, Receiver() as theirs:
        subscribe(api, everything.url, ["sent"])
        subscribe(api, only_one.url, ["sent"], inbox_id=one["id"])
        subscribe(stranger, theirs.url, ["sent"])
        send(api, two, to=["someone@example.com"], subject="from two")
        send(api, one, to=["someone@example.com"], subject="from one")
        everything.events("message.sent", count=2)
        [heard] = only_one.events("message.sent")
        theirs.events("webhook.test")
    assert heard.json["data"]["subject"] == "from one"
    assert len(only_one.received) == 2  # its test event, and one's mail only
    assert [r.headers["X-Mailbot-Event"] for r in theirs.received] == ["webhook.test"]


def test_failures_are_retried_and_every_attempt_logged(tmp_path: Path) -> None:
    # Six attempts, the last after 30 s + 2 min + 10 min + 1 h + 6 h, scaled to 2.6 s.
    with Sandbox(db=str(tmp_path / "m.db"), webhook_retry_scale=0.0001) as sandbox:
        api = Api(sandbox.base_url, fresh_key())
        with Receiver(statuses=[500, 302]) as receiver:
            hook = subscribe(api, receiver.url, ["sent"])
            receiver.events("webhook.test", count=3)
        refused = subscribe(api, closed_port_url(), ["sent"])
        api.close()
        reader = Api(sandbox.base_url, api.key)

        def settled() -> bool:
            return deliveries(reader, refused)[0]["status"] == "failed"

        wait_until(settled)
        [first] = deliveries(reader, hook)
        [dead] = deliveries(reader, refused)
        reader.close()
        outcomes = {
            outcome: metric(
                sandbox.base_url, f'mailbot_webhook_deliveries_total{{outcome="{outcome}"}}'
            )
            for outcome in ("succeeded", "pending", "failed")
        }
    assert outcomes == {"succeeded": 1.0, "pending": 7.0, "failed": 1.0}
    assert first["status"] == "succeeded" and first["attempt_count"] == 3
    assert [a["status_code"] for a in first["attempts"]] == [500, 302, 200]
    assert first["attempts"][0]["error"] == "HTTP 500"
    assert first["attempts"][0]["next_attempt_at"] is not None
    assert first["attempts"][2]["next_attempt_at"] is None
    assert dead["attempt_count"] == 6 and dead["next_attempt_at"] is None
    assert all(a["status_code"] is None and a["error"] for a in dead["attempts"])
    assert all(a["latency_ms"] >= 0 for a in dead["attempts"])


def test_pending_deliveries_resume_after_a_restart(tmp_path: Path) -> None:
    db, key = str(tmp_path / "m.db"), fresh_key()
    with Receiver(statuses=[503]) as receiver:
        with Sandbox(db=db, webhook_retry_scale=0.1) as sandbox:  # the retry is 3 s away
            api = Api(sandbox.base_url, key)
            hook = subscribe(api, receiver.url, ["sent"])
            receiver.events("webhook.test")
            wait_until(lambda: bool(deliveries(api, hook)[0]["attempts"]))
            api.close()
        assert len(receiver.received) == 1  # stopped before the retry was due
        with Sandbox(db=db, webhook_retry_scale=0.1) as sandbox:
            receiver.events("webhook.test", count=2)
            api = Api(sandbox.base_url, key)
            wait_until(lambda: deliveries(api, hook)[0]["status"] == "succeeded")
            [delivery] = deliveries(api, hook)
            api.close()
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 200]


def test_new_events_reach_webhooks_after_the_newest_ones_were_erased(tmp_path: Path) -> None:
    # Deliveries are queued from a position in the event log. Erasing the newest events
    # must not leave that position ahead of the events that come next.
    with Sandbox(db=str(tmp_path / "m.db")) as sandbox:
        api = Api(sandbox.base_url, fresh_key())
        kept, erased = api.create_inbox(), api.create_inbox()
        with Receiver() as receiver:
            subscribe(api, receiver.url, ["sent"])
            send(api, kept, to=["someone@example.com"], subject="before")
            send(api, erased, to=["someone@example.com"], subject="newest")
            receiver.events("message.sent", count=2)
            assert api.delete(f"/sandbox/v1/inboxes/{erased['id']}").status_code == 200
            send(api, kept, to=["someone@example.com"], subject="after")
            arrived = receiver.events("message.sent", count=3)
        api.close()
    assert [r.json["data"]["subject"] for r in arrived] == ["before", "newest", "after"]


def test_deliveries_queued_before_an_upgrade_are_made_once_after_it(tmp_path: Path) -> None:
    # A database from before the dispatcher queued deliveries itself: the schema's trigger
    # queued them as events were recorded. After the upgrade the one still pending is made,
    # and no event recorded before it is queued a second time.
    db = sqlite_utils.Database(str(tmp_path / "m.db"))
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name, step in MIGRATIONS:
        if name >= "0013":  # 0013 moved the queueing of deliveries out of a trigger
            break
        step(db)
        db.execute("INSERT INTO migrations VALUES (?, '2026-01-01T00:00:00.000Z')", [name])
    with Receiver() as receiver:
        db.execute(
            "INSERT INTO webhooks VALUES ('whk_old', 'acc_old', ?, ',message.sent,', NULL,"
            " 'secret', 1, '2026-01-01T00:00:00.000Z')",
            [receiver.url],
        )
        for n in range(2):
            db.execute(
                "INSERT INTO events VALUES (?, 'acc_old', NULL, 'message.sent', NULL, NULL,"
                " '{}', '2026-01-01T00:00:00.000Z')",
                [f"evt_old{n}"],
            )
        db.execute("UPDATE webhook_deliveries SET status = 'succeeded' WHERE event_id = 'evt_old0'")
        db.conn.commit()
        db.close()
        with Sandbox(db=str(tmp_path / "m.db")):
            [made] = receiver.events("message.sent")
            time.sleep(0.5)  # a second delivery would have arrived by now
            assert len(receiver.received) == 1
    assert made.json["id"] == "evt_old1"


def test_replay_queues_an_event_again(api: Api, make_api: Callable[..., Api]) -> None:
    inbox = api.create_inbox()
    with Receiver() as own, Receiver() as elsewhere:
        subscribe(api, own.url, ["sent"])
        send(api, inbox, to=["someone@example.com"])
        [first] = own.events("message.sent")
        event_id = first.json["id"]
        again = api.post(f"/v1/events/{event_id}/replay", json={})
        assert again.status_code == 202
        own.events("message.sent", count=2)
        moved = api.post(f"/v1/events/{event_id}/replay", json={"target_url": elsewhere.url})
        [replayed] = elsewhere.events("message.sent")
    assert replayed.json["id"] == event_id and replayed.body == first.body
    assert moved.json()["data"]["deliveries"][0].startswith("dlv_")
    assert make_api().post(f"/v1/events/{event_id}/replay", json={}).status_code == 404
    bad = api.post(f"/v1/events/{event_id}/replay", json={"target_url": "elsewhere"})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("target_url 'elsewhere' must be")
    assert bad.json()["error"]["details"] == {"field": "target_url"}


def test_a_replay_to_a_target_url_comes_once_per_webhook_signed_by_each(api: Api) -> None:
    inbox = api.create_inbox()
    with Receiver() as account_wide, Receiver() as own, Receiver() as target:
        hooks = [subscribe(api, account_wide.url, ["sent"])]
        hooks.append(subscribe(api, own.url, ["sent"], inbox_id=inbox["id"]))
        send(api, inbox, to=["someone@example.com"])
        [first] = own.events("message.sent")
        moved = api.post(f"/v1/events/{first.json['id']}/replay", json={"target_url": target.url})
        replayed = target.events("message.sent", count=2)
    assert len(moved.json()["data"]["deliveries"]) == 2
    signed_by = sorted(
        next(
            h["id"]
            for h in hooks
            if verify_webhook(r.body, r.headers["X-Mailbot-Signature"], h["secret"])
        )
        for r in replayed
    )
    assert signed_by == sorted(h["id"] for h in hooks)


def test_a_slow_receiver_delays_only_its_own_deliveries(api: Api) -> None:
    # Each answer of the slow one takes 3 s; the sandbox tries at most 4 at once per URL,
    # so the fast receiver gets all its mail while the slow one has seen only 4 POSTs.
    inbox = api.create_inbox()
    with Receiver(delay=3.0) as slow, Receiver() as fast:
        subscribe(api, slow.url, ["sent"])
        subscribe(api, fast.url, ["sent"])
        fast.events("webhook.test")
        for n in range(12):
            send(api, inbox, to=["someone@example.com"], subject=f"mail {n}")
        fast.events("message.sent", count=12, timeout=8)
        seen_by_slow = len(slow.received)
    assert seen_by_slow <= 4, f"the slow receiver had {seen_by_slow} POSTs in flight"


def test_deliveries_share_a_kept_alive_connection(api: Api) -> None:
    inbox = api.create_inbox()
    with Receiver(keep_alive=True) as receiver:
        subscribe(api, receiver.url, ["sent"])
        receiver.events("webhook.test")
        for n in range(10):
            send(api, inbox, to=["someone@example.com"], subject=f"mail {n}")
            receiver.events("message.sent", count=n + 1)
    connections = {r.client_port for r in receiver.received}
    assert len(receiver.received) == 11
    assert len(connections) < 11, "every delivery opened a connection of its own"


def test_a_receiver_restarted_on_its_port_gets_the_next_delivery_once(api: Api) -> None:
    # The sandbox still holds a connection to the receiver that went away; the next
    # POST on it fails before any answer and is made again on a new one.
    inbox = api.create_inbox()
    with Receiver(keep_alive=True) as first:
        hook = subscribe(api, first.url, ["sent"])
        first.events("webhook.test")
        port = int(first.url.split(":")[2].split("/")[0])
    with Receiver(keep_alive=True, port=port) as second:
        send(api, inbox, to=["someone@example.com"], subject="after the restart")
        [delivery] = second.events("message.sent")
        time.sleep(0.5)  # a second copy would have arrived by now
        assert len(second.received) == 1
    assert delivery.json["data"]["subject"] == "after the restart"
    wait_until(lambda: deliveries(api, hook)[0]["status"] == "succeeded")
    assert [a["status_code"] for a in deliveries(api, hook)[0]["attempts"]] == [200]


def test_the_sdk_manages_webhooks(sandbox: Sandbox) -> None:
    client = MailBot(api_key=fresh_key(), base_url=sandbox.api_url)
    made = client.webhooks.create(url="https://app.example/hook", events=["bounced"])
    assert made["events"] == ["message.bounced"]
    assert [w["id"] for w in client.webhooks.list()] == [made["id"]]
    assert client.webhooks.delete(made["id"])["id"] == made["id"]
    assert client.webhooks.list() == []
    client.close()

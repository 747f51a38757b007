"""Replies and threads: headers, one Re:, thread isolation per inbox, the subject window."""

from __future__ import annotations

from tests.helpers import Api, send


def _inbound(api: Api, inbox: dict) -> list[dict]:
    return api.get(f"/v1/inboxes/{inbox['id']}/messages", params={"direction": "inbound"}).json()[
        "data"
    ]


def test_reply_sets_headers_subject_and_thread(api: Api) -> None:
    support, customer = api.create_inbox(username="support"), api.create_inbox()
    first = send(api, customer, to=support["address"], subject="Re: RE: Help please")
    received = _inbound(api, support)[0]
    response = api.post(
        f"/v1/inboxes/{support['id']}/messages/{received['id']}/reply", json={"body_text": "On it."}
    )
    assert response.status_code == 201
    reply = response.json()["data"]
    assert reply["subject"] == "Re: Help please"
    assert reply["in_reply_to"] == first["message_id_header"]
    assert reply["references"] == [first["message_id_header"]]
    assert reply["to_addresses"] == [customer["address"]]
    assert reply["thread_id"] == received["thread_id"]
    assert reply["message_id_header"] != first["message_id_header"]
    # The customer's inbox threads the reply with its original.
    back = _inbound(api, customer)[0]
    assert back["thread_id"] == first["thread_id"]
    thread = api.get(f"/v1/inboxes/{customer['id']}/threads/{first['thread_id']}").json()["data"]
    assert [m["direction"] for m in thread["messages"]] == ["outbound", "inbound"]
    assert thread["message_count"] == 2


def test_reply_to_outbound_goes_to_its_recipients_and_references_grow(api: Api) -> None:
    a, b = api.create_inbox(), api.create_inbox()
    first = send(api, a, to=b["address"], subject="Plan")
    second = api.post(f"/v1/messages/{first['id']}/reply", json={"body_text": "Also..."})
    assert second.status_code == 201
    second = second.json()["data"]
    assert second["to_addresses"] == [b["address"]]
    third = api.post(
        f"/v1/inboxes/{a['id']}/messages/{second['id']}/reply", json={"body_text": "And..."}
    ).json()["data"]
    assert third["references"] == [first["message_id_header"], second["message_id_header"]]
    assert third["subject"] == "Re: Plan"
    threads = api.get(f"/v1/inboxes/{b['id']}/threads").json()
    assert threads["meta"]["total"] == 1 and threads["data"][0]["message_count"] == 3


def test_reply_uses_reply_to_of_the_parent(api: Api) -> None:
    a, b = api.create_inbox(), api.create_inbox()
    send(api, a, to=b["address"], reply_to="help@example.com")
    parent = _inbound(api, b)[0]
    reply = api.post(
        f"/v1/inboxes/{b['id']}/messages/{parent['id']}/reply", json={"body_text": "x"}
    ).json()["data"]
    assert reply["to_addresses"] == ["help@example.com"]


def test_reply_of_an_unknown_or_foreign_message_is_404(make_api) -> None:
    owner, stranger = make_api(), make_api()
    inbox = owner.create_inbox()
    sent = send(owner, inbox, to="x@example.com")
    s_inbox = stranger.create_inbox()
    assert (
        stranger.post(f"/v1/messages/{sent['id']}/reply", json={"body_text": "x"}).status_code
        == 404
    )
    assert (
        stranger.post(
            f"/v1/inboxes/{s_inbox['id']}/messages/{sent['id']}/reply", json={"body_text": "x"}
        ).status_code
        == 404
    )


def test_threads_are_isolated_per_inbox(api: Api) -> None:
    a, b = api.create_inbox(), api.create_inbox()
    send(api, a, to=b["address"], subject="Shared conversation")
    a_threads = api.get(f"/v1/inboxes/{a['id']}/threads").json()["data"]
    b_threads = api.get(f"/v1/inboxes/{b['id']}/threads").json()["data"]
    assert len(a_threads) == len(b_threads) == 1
    assert a_threads[0]["id"] != b_threads[0]["id"]
    assert api.get(f"/v1/inboxes/{a['id']}/threads/{b_threads[0]['id']}").status_code == 404
    assert a_threads[0]["inbox_id"] == a["id"]
    assert set(a_threads[0]["participants"]) == {a["address"], b["address"]}


def test_same_subject_joins_within_seven_days_then_starts_anew(api: Api) -> None:
    sender, receiver = api.create_inbox(), api.create_inbox()
    send(api, sender, to=receiver["address"], subject="Weekly report")
    send(api, sender, to=receiver["address"], subject="FWD: weekly   REPORT")
    assert api.get(f"/v1/inboxes/{receiver['id']}/threads").json()["meta"]["total"] == 1
    api.post("/sandbox/v1/clock", json={"advance_seconds": 8 * 86400})
    send(api, sender, to=receiver["address"], subject="Weekly report")
    threads = api.get(f"/v1/inboxes/{receiver['id']}/threads").json()
    assert threads["meta"]["total"] == 2
    assert [t["message_count"] for t in threads["data"]] == [1, 2]


def test_labels_replace_and_filter(api: Api) -> None:
    a, b = api.create_inbox(), api.create_inbox()
    send(api, a, to=b["address"], subject="one")
    send(api, a, to=b["address"], subject="two")
    first = _inbound(api, b)[-1]
    response = api.put(
        f"/v1/inboxes/{b['id']}/messages/{first['id']}/labels", json={"labels": ["urgent", "vip"]}
    )
    assert response.json()["data"]["labels"] == ["urgent", "vip"]
    api.put(f"/v1/inboxes/{b['id']}/messages/{first['id']}/labels", json={"labels": ["vip"]})
    listed = api.get(f"/v1/inboxes/{b['id']}/messages", params={"label": "vip"}).json()
    assert [m["subject"] for m in listed["data"]] == ["one"]
    assert (
        api.get(f"/v1/inboxes/{b['id']}/messages", params={"label": "urgent"}).json()["meta"][
            "total"
        ]
        == 0
    )
    thread = api.get(f"/v1/inboxes/{b['id']}/threads/{first['thread_id']}").json()["data"]
    assert thread["labels"] == ["vip"]
    bad = api.put(f"/v1/inboxes/{b['id']}/messages/{first['id']}/labels", json={"labels": "x"})
    assert bad.status_code == 400


def test_message_list_filters(api: Api) -> None:
    a, b = api.create_inbox(), api.create_inbox()
    out = send(api, a, to=b["address"], subject="first")
    send(api, b, to=a["address"], subject="answer")
    listed = api.get(f"/v1/inboxes/{a['id']}/messages").json()
    assert [m["subject"] for m in listed["data"]] == ["answer", "first"]
    assert (
        api.get(f"/v1/inboxes/{a['id']}/messages", params={"direction": "outbound"}).json()["data"][
            0
        ]["id"]
        == out["id"]
    )
    from_b = api.get(
        f"/v1/inboxes/{a['id']}/messages", params={"from_address": b["address"].upper()}
    ).json()["data"]
    assert [m["subject"] for m in from_b] == ["answer"]
    later = api.get(f"/v1/inboxes/{a['id']}/messages", params={"after": out["created_at"]}).json()[
        "data"
    ]
    assert "first" not in [m["subject"] for m in later]
    assert (
        api.get(
            f"/v1/inboxes/{a['id']}/messages", params={"before": "2000-01-01T00:00:00Z"}
        ).json()["meta"]["total"]
        == 0
    )
    in_thread = api.get(
        f"/v1/inboxes/{a['id']}/messages", params={"thread_id": out["thread_id"]}
    ).json()["data"]
    assert [m["subject"] for m in in_thread] == ["first"]  # different subject: its own thread
    for bad in ({"direction": "sideways"}, {"after": "yesterday"}):
        assert api.get(f"/v1/inboxes/{a['id']}/messages", params=bad).status_code == 400

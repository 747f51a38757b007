"""Live streams over real HTTP: an inbox's or the account's events as Server-Sent Events,
resumable, with heartbeats, isolated per account, and costing no request thread each."""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mailbot_sandbox import Sandbox
from mailbot_sandbox.api.app import create_app
from tests.helpers import Api, EventStream, fresh_key, mail_by_smtp, metric, send, smtp_message


@pytest.fixture(scope="module")
def quick() -> Iterator[Sandbox]:
    """A sandbox whose streams send a heartbeat every 50 ms."""
    with Sandbox(stream_heartbeat=0.05) as running:
        yield running


def stream(sandbox: Sandbox, api: Api, path: str, **kwargs: Any) -> EventStream:
    return EventStream(sandbox.base_url, api.key, path, **kwargs)


def test_smtp_mail_reaches_the_inbox_stream_as_message_received(sandbox: Sandbox, api: Api) -> None:
    inbox = api.create_inbox()
    events = stream(sandbox, api, f"/v1/inboxes/{inbox['id']}/stream")
    try:
        mail_by_smtp(sandbox, inbox, smtp_message("a@client.example", [inbox["address"]], "Live"))
        event = events.next_event()
    finally:
        events.close()
    assert event["event"] == "message.received"
    payload = event["data"]
    assert payload["id"] == payload["event_id"] == event["id"]
    assert payload["type"] == payload["event"] == "message.received"
    assert payload["inbox_id"] == inbox["id"]
    assert payload["data"]["subject"] == "Live"
    assert payload["message_id"] == payload["data"]["id"]
    # the same event the event log lists
    logged = api.get(f"/v1/events/{event['id']}")
    assert logged.status_code == 200


def test_inbox_stream_sees_only_its_inbox(sandbox: Sandbox, api: Api) -> None:
    watched, other = api.create_inbox(), api.create_inbox()
    events = stream(sandbox, api, f"/v1/inboxes/{watched['id']}/stream")
    try:
        mail_by_smtp(sandbox, other, smtp_message("a@client.example", [other["address"]], "No"))
        mail_by_smtp(sandbox, watched, smtp_message("a@x.example", [watched["address"]], "Yes"))
        event = events.next_event()
    finally:
        events.close()
    assert event["data"]["inbox_id"] == watched["id"]
    assert event["data"]["data"]["subject"] == "Yes"


def test_account_stream_sees_every_inbox_and_no_other_account(
    sandbox: Sandbox, api: Api, make_api: Any
) -> None:
    stranger = make_api()
    first, second = api.create_inbox(), api.create_inbox()
    own = stream(sandbox, api, "/v1/realtime/stream")
    strangers = stream(sandbox, stranger, "/v1/realtime/stream")
    try:
        send(api, first, to=second["address"], subject="Between")
        seen = [own.next_event() for _ in range(2)]
        # The stranger's stream carries no event of that: its next one is its own.
        mine = stranger.create_inbox()
        send(stranger, mine, to="someone@example.com", subject="Stranger's")
        theirs = strangers.next_event()
    finally:
        own.close()
        strangers.close()
    assert {(e["event"], e["data"]["inbox_id"]) for e in seen} == {
        ("message.sent", first["id"]),
        ("message.received", second["id"]),
    }
    assert theirs["event"] == "message.sent"
    assert theirs["data"]["inbox_id"] == mine["id"]


def test_account_stream_filters_by_inbox_and_type(sandbox: Sandbox, api: Api) -> None:
    first, second = api.create_inbox(), api.create_inbox()
    events = stream(
        sandbox,
        api,
        "/v1/realtime/stream",
        params={"inbox_id": second["id"], "events": "received"},
    )
    try:
        send(api, first, to=second["address"], subject="Filtered")
        event = events.next_event()
    finally:
        events.close()
    assert (event["event"], event["data"]["inbox_id"]) == ("message.received", second["id"])


def test_another_accounts_inbox_is_404(api: Api, make_api: Any) -> None:
    inbox = api.create_inbox()
    stranger = make_api()
    for path, params in (
        (f"/v1/inboxes/{inbox['id']}/stream", None),
        ("/v1/realtime/stream", {"inbox_id": inbox["id"]}),
    ):
        response = stranger.get(path, params=params)
        assert response.status_code == 404, response.text
        assert inbox["id"] in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"events": "message.read"}, "events"), ({"last_event_id": "nope"}, "last_event_id")],
)
def test_bad_filters_are_400_naming_them(api: Api, params: dict[str, str], field: str) -> None:
    response = api.get("/v1/realtime/stream", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["field"] == field


@pytest.mark.parametrize(
    ("name", "value", "taken"),
    [
        ("last_event_id", "evt_" + "a" * 20, True),  # of no stored event: the stream starts now
        ("last_event_id", "nope", False),
        ("last_event_id", "msg_" + "a" * 20, False),
        ("last_event_id", "evt_" + "A" * 20, False),
        ("events", "received, message.bounced ,opened", True),
        ("events", "message.read", False),
        ("events", "received bounced", False),
        ("events", "received\t", False),
        ("events", ",", False),
    ],
)
def test_the_document_allows_the_stream_parameters_the_server_takes(
    sandbox: Sandbox, api: Api, name: str, value: str, taken: bool
) -> None:
    # A client generating requests from /v1/openapi.json sends only what the server accepts.
    path = "/v1/realtime/stream"
    assert _documented_as_valid(api, path, name, value) == taken
    if taken:
        stream(sandbox, api, path, params={name: value}).close()  # 200, an event stream
    else:
        response = api.get(path, params={name: value})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["details"]["field"] == name


def test_each_event_is_what_the_document_describes(sandbox: Sandbox, api: Api) -> None:
    # OpenAPI 3.1 reads the schema of text/event-stream as the fields of one event.
    sender, inbox = api.create_inbox(), api.create_inbox()
    path = "/v1/inboxes/{inbox_id}/stream"
    events = stream(sandbox, api, path.format(inbox_id=inbox["id"]))
    try:
        send(api, sender, to=inbox["address"], subject="described")
        event = events.next_event()
    finally:
        events.close()
    document = api.get("/v1/openapi.json").json()
    content = document["paths"][path]["get"]["responses"]["200"]["content"]
    schema = {**content["text/event-stream"]["schema"], "components": document["components"]}
    fields = {"id": event["id"], "event": event["event"], "data": json.dumps(event["data"])}
    Draft202012Validator(schema).validate(fields)
    assert not Draft202012Validator(schema).is_valid({**fields, "event": "message.read"})


def _documented_as_valid(api: Api, path: str, name: str, value: str) -> bool:
    """Whether ``/v1/openapi.json`` allows ``value`` for the query parameter ``name``."""
    document = api.get("/v1/openapi.json").json()
    (parameter,) = (p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name)
    return Draft202012Validator(parameter["schema"]).is_valid(value)


def test_last_event_id_replays_what_came_after_then_goes_live(sandbox: Sandbox, api: Api) -> None:
    sender, inbox = api.create_inbox(), api.create_inbox()
    path = f"/v1/inboxes/{inbox['id']}/stream"
    first = stream(sandbox, api, path)
    try:
        for subject in ("one", "two", "three"):
            send(api, sender, to=inbox["address"], subject=subject)
        seen = [first.next_event() for _ in range(3)]
    finally:
        first.close()  # a client that went away after "one" ...
    assert [e["data"]["data"]["subject"] for e in seen] == ["one", "two", "three"]
    # ... resumes with the header an EventSource sends: what followed "one", then live mail
    resumed = stream(sandbox, api, path, headers={"Last-Event-ID": seen[0]["id"]})
    try:
        replayed = [resumed.next_event() for _ in range(2)]
        send(api, sender, to=inbox["address"], subject="four")
        live = resumed.next_event()
    finally:
        resumed.close()
    assert [e["id"] for e in replayed] == [e["id"] for e in seen[1:]]
    assert live["data"]["data"]["subject"] == "four"
    # ... or with the query parameter, for clients that cannot set headers
    resumed = stream(sandbox, api, path, params={"last_event_id": seen[2]["id"]})
    try:
        assert resumed.next_event()["id"] == live["id"]
    finally:
        resumed.close()


def test_heartbeats_while_nothing_happens(quick: Sandbox) -> None:
    api = Api(quick.base_url, "mb_" + os.urandom(8).hex())
    inbox = api.create_inbox()
    events = stream(quick, api, f"/v1/inboxes/{inbox['id']}/stream")
    try:
        started = time.monotonic()
        assert [events.next_comment() for _ in range(3)] == ["ping"] * 3
        assert time.monotonic() - started < 5
    finally:
        events.close()
        api.close()


def _open_raw(sandbox: Sandbox, key: str, path: str) -> socket.socket:
    """A stream opened on a bare socket, its response head read."""
    client = socket.create_connection(("127.0.0.1", sandbox.http_port), timeout=10)
    client.sendall(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += client.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head
    return client


def test_streams_hold_no_thread_and_leave_nothing_when_clients_vanish(quick: Sandbox) -> None:
    api = Api(quick.base_url, "mb_" + os.urandom(8).hex())
    inbox = api.create_inbox()
    path = f"/v1/inboxes/{inbox['id']}/stream"
    _open_raw(quick, api.key, path).close()  # the hub's thread exists from here on
    time.sleep(0.2)  # the request thread that served it goes back to its pool
    threads, files = threading.active_count(), len(os.listdir("/proc/self/fd"))
    clients = []
    deadline = time.monotonic() + 20
    for count in range(1, 61):  # one after the other: each request thread is free again
        clients.append(_open_raw(quick, api.key, path))
        while metric(quick.base_url, "mailbot_streams_open") < count:
            assert time.monotonic() < deadline, f"stream {count} never reached the hub"
    # 60 open streams, not 60 more threads: the request threads went back to their pool
    assert threading.active_count() < threads + 5
    # Mail flows while every client hangs up at once, half of them with a reset.
    sender = threading.Thread(
        target=lambda: [send(api, inbox, to=inbox["address"], subject=f"{n}") for n in range(5)]
    )
    sender.start()
    for number, client in enumerate(clients):
        if number % 2:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
    sender.join()
    deadline = time.monotonic() + 10
    while metric(quick.base_url, "mailbot_streams_open") > 0:
        assert time.monotonic() < deadline, "streams of gone clients are still open"
    # every server-side socket closed again; the thread count back where it was
    while len(os.listdir("/proc/self/fd")) > files:
        assert time.monotonic() < deadline, "sockets of gone clients are still open"
        time.sleep(0.05)
    assert threading.active_count() < threads + 5
    # and the server still serves streams
    events = stream(quick, api, path)
    try:
        send(api, inbox, to=inbox["address"], subject="after")
        assert events.next_event()["data"]["data"]["subject"] == "after"
    finally:
        events.close()
        api.close()


def test_streams_work_under_a_wsgi_server_without_the_hand_over(sandbox: Sandbox, api: Api) -> None:
    # The app on its own (as under gunicorn): the request's thread follows the events itself.
    assert sandbox.services is not None
    app = create_app(sandbox.config, services=sandbox.services)
    inbox = api.create_inbox()
    response = app.test_client().get(
        f"/v1/inboxes/{inbox['id']}/stream",
        headers={"Authorization": f"Bearer {api.key}"},
        buffered=False,
    )
    assert response.status_code == 200
    chunks = iter(response.response)
    try:
        assert next(chunks) == b"retry: 1000\n\n"
        send(api, inbox, to=inbox["address"], subject="without hand-over")
        text = b""
        while b"message.received" not in text:
            text += next(chunks)
    finally:
        response.close()
    assert b'"subject":"without hand-over"' in text


def test_an_account_stream_goes_on_after_the_newest_events_were_erased(tmp_path: Any) -> None:
    # A stream follows positions in the event log. Erasing the inbox whose events are the
    # newest must not let the next event take a position the stream has passed.
    with Sandbox(db=str(tmp_path / "m.db")) as sandbox:
        api = Api(sandbox.base_url, fresh_key())
        kept, erased = api.create_inbox(), api.create_inbox()
        events = stream(sandbox, api, "/v1/realtime/stream")
        try:
            send(api, kept, to=["someone@example.com"], subject="before")
            send(api, erased, to=["someone@example.com"], subject="newest")
            seen = [events.next_event()["data"]["data"]["subject"] for _ in range(2)]
            assert api.delete(f"/sandbox/v1/inboxes/{erased['id']}").status_code == 200
            send(api, kept, to=["someone@example.com"], subject="after")
            seen.append(events.next_event()["data"]["data"]["subject"])
        finally:
            events.close()
            api.close()
    assert seen == ["before", "newest", "after"]


def test_a_stream_resumes_after_an_event_that_was_erased_since(sandbox: Sandbox) -> None:
    # The client's last event belonged to an inbox erased while it was away: the id is no
    # longer stored, yet the events recorded after it still come first.
    api = Api(sandbox.base_url, fresh_key())
    kept, erased = api.create_inbox(), api.create_inbox()
    path = "/v1/realtime/stream"
    first = stream(sandbox, api, path, params={"events": "sent"})
    try:
        send(api, kept, to=["someone@example.com"], subject="one")
        send(api, erased, to=["someone@example.com"], subject="two")
        seen = [first.next_event() for _ in range(2)]
    finally:
        first.close()
    send(api, kept, to=["someone@example.com"], subject="three")
    assert api.delete(f"/sandbox/v1/inboxes/{erased['id']}").status_code == 200
    assert api.get(f"/v1/events/{seen[1]['id']}").status_code == 404
    resumed = stream(sandbox, api, path, headers={"Last-Event-ID": seen[1]["id"]})
    try:
        assert resumed.next_event()["data"]["data"]["subject"] == "three"
    finally:
        resumed.close()
        api.close()

"""Webhook receivers that misbehave, over real HTTP and raw TCP: silent, redirecting,
answering too much, answering garbage, hanging up mid-answer or between requests, offering a
certificate nobody trusts, or not there at all. Each test reads what the sandbox's attempt
log says (``GET /v1/webhooks/{id}/deliveries``) and checks that other receivers are served
meanwhile."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mailbot_sandbox import Sandbox
from tests.helpers import (
    Api,
    closed_port_url,
    deliveries,
    fresh_key,
    self_signed_certificate,
    send,
    subscribe,
    wait_until,
)
from tests.receiver import RawReceiver, RawRequest, Receiver, Reply

RETRY_SCALE = 0.001  # the first retry 30 ms after a failure, the second 120 ms after that
OK_KEPT = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[Api]:
    """A client of a sandbox of this test alone that retries within milliseconds and gives
    a receiver 2 s to answer."""
    with Sandbox(
        db=str(tmp_path / "m.db"), webhook_timeout=2.0, webhook_retry_scale=RETRY_SCALE
    ) as sandbox:
        client = Api(sandbox.base_url, fresh_key())
        yield client
        client.close()


def answer(raw: bytes, *, keep: bool = True) -> Reply:
    """A reply that writes ``raw`` to every request, then keeps the connection or closes it."""

    def reply(sock: socket.socket, request: RawRequest) -> bool:
        sock.sendall(raw)
        return keep

    return reply


def first_delivery(api: Api, hook: dict[str, Any], attempts: int = 1) -> dict[str, Any]:
    """The webhook's first delivery (its test event), once ``attempts`` attempts are logged."""
    wait_until(lambda: len(deliveries(api, hook)[-1]["attempts"]) >= attempts)
    return deliveries(api, hook)[-1]


def settled(api: Api, hook: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The webhook's ``count`` deliveries, once none of them is pending any more."""

    def done() -> bool:
        made = deliveries(api, hook)
        return len(made) == count and all(d["status"] != "pending" for d in made)

    wait_until(done)
    return deliveries(api, hook)


def send_one_by_one(api: Api, inbox: dict[str, Any], receiver: RawReceiver, count: int) -> None:
    """Send ``count`` mails, each once the receiver has the one before."""
    for n in range(count):
        send(api, inbox, to=["someone@example.com"], subject=f"mail {n}")
        receiver.events("message.sent", count=n + 1)


def seconds(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def test_a_silent_receiver_times_out_without_delaying_others(quick: Api) -> None:
    inbox = quick.create_inbox()
    with RawReceiver(lambda sock, request: True) as silent, Receiver() as healthy:
        hook = subscribe(quick, silent.url, ["sent"])
        silent.events("webhook.test")  # its POST is in flight, and will never be answered
        started = time.monotonic()
        subscribe(quick, healthy.url, ["sent"])
        for n in range(5):
            send(quick, inbox, to=["someone@example.com"], subject=f"mail {n}")
        healthy.events("message.sent", count=5)
        served_in = time.monotonic() - started
        assert deliveries(quick, hook)[-1]["attempts"] == [], "timed out before the others"
        delivery = first_delivery(quick, hook)
        silent.events("webhook.test", count=2)  # tried again, on schedule
    assert served_in < 2.0, f"the healthy receiver waited {served_in:.1f} s"
    [attempt, *_] = delivery["attempts"]
    assert (attempt["status_code"], attempt["error"]) == (None, "timed out")
    assert 1900 <= attempt["latency_ms"] < 3000
    assert attempt["next_attempt_at"] is not None and delivery["status"] == "pending"


@pytest.mark.parametrize("code", [301, 302, 307])
def test_a_redirect_is_logged_not_followed(api: Api, code: int) -> None:
    with Receiver() as elsewhere:
        moved = f"HTTP/1.1 {code} Moved\r\nLocation: {elsewhere.url}\r\nContent-Length: 0\r\n\r\n"
        with RawReceiver(answer(moved.encode())) as redirecting:
            hook = subscribe(api, redirecting.url, ["sent"])
            delivery = first_delivery(api, hook)
        assert elsewhere.received == []
    assert len(redirecting.received) == 1
    [attempt] = delivery["attempts"]
    assert (attempt["status_code"], attempt["error"]) == (code, f"HTTP {code}")
    assert delivery["status"] == "pending" and attempt["next_attempt_at"] is not None


@pytest.mark.parametrize(
    "head",
    [b"Content-Length: 300000\r\n", b"Transfer-Encoding: chunked\r\n"],
    ids=["sized", "chunked"],
)
def test_a_huge_answer_counts_as_delivered(api: Api, head: bytes) -> None:
    body = b"x" * 300_000
    if head.startswith(b"Transfer"):
        body = b"".join(
            b"%x\r\n%s\r\n" % (1000, body[i : i + 1000]) for i in range(0, 300_000, 1000)
        )
        body += b"0\r\n\r\n"
    inbox = api.create_inbox()
    with RawReceiver(answer(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n" + body)) as receiver:
        hook = subscribe(api, receiver.url, ["sent"])
        receiver.events("webhook.test")
        send(api, inbox, to=["someone@example.com"])
        receiver.events("message.sent")
        made = settled(api, hook, 2)
    assert [d["status"] for d in made] == ["succeeded", "succeeded"]
    assert [[(a["status_code"], a["error"]) for a in d["attempts"]] for d in made] == [
        [(200, None)],
        [(200, None)],
    ]


def test_garbage_instead_of_http_fails_and_is_retried(quick: Api) -> None:
    with RawReceiver(answer(b"hello\r\n\r\n", keep=False)) as receiver:
        hook = subscribe(quick, receiver.url, ["sent"])
        delivery = first_delivery(quick, hook, attempts=2)
        receiver.events("webhook.test", count=2)
    first, second = delivery["attempts"][:2]
    for attempt in (first, second):
        assert attempt["status_code"] is None
        assert attempt["error"].startswith("not an HTTP answer"), attempt["error"]
    waited = seconds(first["next_attempt_at"]) - seconds(first["created_at"])
    assert abs(waited - 30 * RETRY_SCALE) <= 0.002
    assert seconds(second["created_at"]) >= seconds(first["next_attempt_at"])


@pytest.mark.parametrize(
    "sent",
    [b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"],
    ids=["status-line", "part-of-the-body"],
)
def test_a_receiver_hanging_up_mid_answer_fails_and_is_retried(quick: Api, sent: bytes) -> None:
    with RawReceiver(answer(sent, keep=False)) as receiver:
        hook = subscribe(quick, receiver.url, ["sent"])
        delivery = first_delivery(quick, hook, attempts=2)
        receiver.events("webhook.test", count=2)
    for attempt in delivery["attempts"][:2]:
        assert attempt["error"] == "the receiver closed the connection mid-answer"
        assert attempt["status_code"] == (200 if b"Content-Length" in sent else None)
    assert delivery["attempts"][0]["next_attempt_at"] is not None
    assert delivery["status"] == "pending"


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthanks, until the close",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\n\r\nthanks, until the close",
    ],
    ids=["close-sized", "close-unsized", "1.0-sized", "1.0-unsized"],
)
def test_receivers_closing_after_each_answer_get_every_delivery_once(api: Api, raw: bytes) -> None:
    inbox = api.create_inbox()
    with RawReceiver(answer(raw, keep=False)) as receiver:
        hook = subscribe(api, receiver.url, ["sent"])
        for n in range(5):
            send(api, inbox, to=["someone@example.com"], subject=f"mail {n}")
        receiver.events("message.sent", count=5)
        made = settled(api, hook, 6)
    arrived = [r.header("X-Mailbot-Delivery") for r in receiver.received]
    assert sorted(arrived) == sorted(d["id"] for d in made)  # each once, none twice
    assert all(d["status"] == "succeeded" for d in made)
    assert {(a["status_code"], a["error"]) for d in made for a in d["attempts"]} == {(200, None)}


def test_a_receiver_closing_idle_connections_gets_the_next_delivery_once(api: Api) -> None:
    inbox = api.create_inbox()
    with RawReceiver(answer(OK_KEPT), idle=0.2) as receiver:
        hook = subscribe(api, receiver.url, ["sent"])
        for n in range(2):
            receiver.wait_until(lambda n=n: receiver.closed_idle > n)  # it hung up, silently
            send(api, inbox, to=["someone@example.com"], subject=f"mail {n}")
            receiver.events("message.sent", count=n + 1)
        made = settled(api, hook, 3)
    assert len(receiver.received) == 3
    assert [[a["status_code"] for a in d["attempts"]] for d in made] == [[200]] * 3


def test_a_post_crossing_the_receivers_hang_up_is_made_once_more(api: Api) -> None:
    # The receiver answers keep-alive, then closes the connection as the next POST arrives,
    # unread: the POST is made again once, on a new connection.
    inbox = api.create_inbox()
    with RawReceiver(answer(OK_KEPT), requests_per_connection=1) as receiver:
        hook = subscribe(api, receiver.url, ["sent"])
        receiver.events("webhook.test")
        send_one_by_one(api, inbox, receiver, 3)
        made = settled(api, hook, 4)
    assert len(receiver.received) == 4
    assert receiver.dropped == 3, "the kept connection was not tried first"
    assert [[a["status_code"] for a in d["attempts"]] for d in made] == [[200]] * 4


def test_an_untrusted_certificate_fails_naming_it(api: Api, tmp_path: Path) -> None:
    cert, key, _ = self_signed_certificate(tmp_path, name="127.0.0.1")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with RawReceiver(answer(OK_KEPT), tls=tls) as receiver:
        hook = subscribe(api, receiver.url, ["sent"])
        delivery = first_delivery(api, hook)
    assert receiver.received == []
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None and "certificate" in attempt["error"]
    assert delivery["status"] == "pending"


def test_a_trusted_certificate_gets_the_delivery(
    quick: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same receiver as above, its certificate now among those the sandbox trusts (read
    # when its first https delivery is made): the failure above was the certificate's alone.
    cert, key, _ = self_signed_certificate(tmp_path, name="localhost")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with RawReceiver(answer(OK_KEPT), tls=tls) as receiver:
        hook = subscribe(quick, f"https://localhost:{receiver.port}/hook", ["sent"])
        receiver.events("webhook.test")
        [delivery] = settled(quick, hook, 1)
    assert [(a["status_code"], a["error"]) for a in delivery["attempts"]] == [(200, None)]


def test_unreachable_receivers_fail_naming_why_and_others_are_served(quick: Api) -> None:
    inbox = quick.create_inbox()
    nowhere = subscribe(quick, "http://nonexistent.invalid/hook", ["sent"])
    refused = subscribe(quick, closed_port_url(), ["sent"])
    with Receiver() as healthy:
        subscribe(quick, healthy.url, ["sent"])
        send(quick, inbox, to=["someone@example.com"])
        healthy.events("message.sent")
        unresolved = first_delivery(quick, nowhere, attempts=2)
        closed = first_delivery(quick, refused, attempts=2)
    for attempt in unresolved["attempts"]:
        assert attempt["status_code"] is None
        assert "nonexistent.invalid" in attempt["error"], attempt["error"]
    for attempt in closed["attempts"]:
        assert attempt["status_code"] is None
        assert "refused" in attempt["error"], attempt["error"]


def test_bytes_past_the_answer_spoil_no_later_delivery(api: Api) -> None:
    # A receiver that counts its Content-Length short (characters, not UTF-8 bytes, say)
    # leaves bytes on the kept connection after its answer.
    inbox = api.create_inbox()
    with RawReceiver(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok!")) as receiver:
        hook = subscribe(api, receiver.url, ["sent"])
        receiver.events("webhook.test")
        send_one_by_one(api, inbox, receiver, 3)
        made = settled(api, hook, 4)
    assert len(receiver.received) == 4
    assert [[(a["status_code"], a["error"]) for a in d["attempts"]] for d in made] == [
        [(200, None)]
    ] * 4


def test_an_interim_100_continue_is_not_the_answer(api: Api) -> None:
    # Some servers say "100 Continue" before every answer, asked or not: the answer that
    # counts is the one after it.
    inbox = api.create_inbox()

    def continued(sock: socket.socket, request: RawRequest) -> bool:
        sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        time.sleep(0.05)  # the answer comes in a read of its own
        sock.sendall(OK_KEPT)
        return True

    with RawReceiver(continued) as receiver:
        hook = subscribe(api, receiver.url, ["sent"])
        settled(api, hook, 1)  # the test event's answer is in: its connection is free
        send(api, inbox, to=["someone@example.com"], subject="after a continue")
        receiver.events("message.sent")
        made = settled(api, hook, 2)
    assert len(receiver.received) == 2
    assert [[(a["status_code"], a["error"]) for a in d["attempts"]] for d in made] == [
        [(200, None)]
    ] * 2
    assert receiver.connections == 1  # the connection was kept for the second POST

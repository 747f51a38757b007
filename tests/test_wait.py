"""Long-poll waits: answer the moment mail lands, filters, after, timeouts, isolation."""

from __future__ import annotations

import smtplib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from mailbot_sandbox import Sandbox
from mailbot_sandbox.core.notify import Notifier
from tests.helpers import Api, send, smtp_message, wait_until_parked


def _wait(api: Api, inbox: dict, **params) -> tuple[int, dict]:
    response = api.get(f"/v1/inboxes/{inbox['id']}/messages/wait", params=params, timeout=60)
    return response.status_code, response.json()


def test_returns_newest_existing_match_at_once(api: Api) -> None:
    a, b = api.create_inbox(), api.create_inbox()
    send(api, a, to=b["address"], subject="first")
    send(api, a, to=b["address"], subject="second")
    status, body = _wait(api, b, timeout_ms=0)
    assert status == 200 and body["data"]["subject"] == "second"


def test_blocks_until_mail_arrives_over_smtp(api: Api, sandbox: Sandbox) -> None:
    inbox = api.create_inbox()

    def deliver_once_parked() -> None:
        wait_until_parked(sandbox.base_url)
        with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
            client.sendmail(
                "app@example.com",
                [inbox["address"]],
                smtp_message("app@example.com", [inbox["address"]], "Your code"),
            )

    sender = threading.Thread(target=deliver_once_parked)
    started = time.monotonic()
    sender.start()
    status, body = _wait(api, inbox, subject_contains="your CODE", timeout_ms=10_000)
    elapsed = time.monotonic() - started
    sender.join()
    assert status == 200 and body["data"]["subject"] == "Your code"
    assert elapsed < 5


def test_times_out_with_408(api: Api) -> None:
    inbox = api.create_inbox()
    started = time.monotonic()
    status, body = _wait(api, inbox, timeout_ms=300)
    assert status == 408 and body["error"]["code"] == "wait_timeout"
    assert 0.25 < time.monotonic() - started < 3


def test_filters_from_and_direction(api: Api) -> None:
    a, b, c = api.create_inbox(), api.create_inbox(), api.create_inbox()
    send(api, a, to=c["address"], subject="from a")
    send(api, b, to=c["address"], subject="from b")
    status, body = _wait(api, c, from_address=a["address"].upper(), timeout_ms=0)
    assert status == 200 and body["data"]["subject"] == "from a"
    status, body = _wait(api, a, direction="outbound", timeout_ms=0)
    assert status == 200 and body["data"]["subject"] == "from a"
    status, _ = _wait(api, a, timeout_ms=0)  # default direction is inbound
    assert status == 408


def test_after_a_message_id_returns_the_next_one(api: Api) -> None:
    a, b = api.create_inbox(), api.create_inbox()
    send(api, a, to=b["address"], subject="one")
    first = _wait(api, b, timeout_ms=0)[1]["data"]
    send(api, a, to=b["address"], subject="two")
    send(api, a, to=b["address"], subject="three")
    status, body = _wait(api, b, after=first["id"], timeout_ms=0)
    assert status == 200 and body["data"]["subject"] == "two"
    status, body = _wait(api, b, after=first["created_at"], subject_contains="three", timeout_ms=0)
    assert body["data"]["subject"] == "three"


def test_wait_does_not_see_other_inboxes(api: Api) -> None:
    a, b, c = api.create_inbox(), api.create_inbox(), api.create_inbox()
    send(api, a, to=b["address"], subject="for b only")
    status, _ = _wait(api, c, timeout_ms=200)
    assert status == 408


def test_bad_wait_parameters(api: Api) -> None:
    inbox = api.create_inbox()
    for params in (
        {"timeout_ms": 120_001},
        {"timeout_ms": "soon"},
        {"direction": "up"},
        {"after": "yesterday"},
        {"after": "msg_unknown"},
    ):
        status, body = _wait(api, inbox, **params)
        assert status == 400, params
        assert next(iter(params)) in body["error"]["message"]


def test_fifty_pending_waits_do_not_starve_other_requests(api: Api) -> None:
    inboxes = [api.create_inbox() for _ in range(50)]
    sender = api.create_inbox()
    with ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(_wait, api, inbox, timeout_ms=20_000) for inbox in inboxes]
        wait_until_parked(api.base_url, len(inboxes))
        started = time.monotonic()
        assert api.get("/v1/inboxes").status_code == 200  # still served promptly
        assert time.monotonic() - started < 2
        for inbox in inboxes:
            send(api, sender, to=inbox["address"], subject=inbox["id"])
        results = [f.result(timeout=30) for f in futures]
    assert [body["data"]["subject"] for _, body in results] == [i["id"] for i in inboxes]


def test_stopping_the_sandbox_releases_waiters(make_api) -> None:
    sandbox = Sandbox().start()
    api = make_api(target=sandbox)
    inbox = api.create_inbox()
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(_wait, api, inbox, timeout_ms=60_000)
        wait_until_parked(sandbox.base_url)
        started = time.monotonic()
        sandbox.stop()
        status, _ = future.result(timeout=15)
    assert status == 408
    assert time.monotonic() - started < 10


def test_only_a_wait_blocked_for_a_wake_up_counts_as_parked() -> None:
    parked: list[int] = []
    notifier = Notifier(on_block=parked.append)
    notifier.publish(["inb_a"])
    assert notifier.wait("inb_a", seen=0, timeout=5)  # mail came before: no need to park
    assert parked == []
    with ThreadPoolExecutor(max_workers=1) as pool:
        woken = pool.submit(notifier.wait, "inb_a", 1, 30)
        deadline = time.monotonic() + 10
        while sum(parked) < 1:  # the count is the signal a publish is sure to wake it
            assert time.monotonic() < deadline
            time.sleep(0.01)
        notifier.publish(["inb_a"])
        assert woken.result(timeout=10)
    assert parked == [1, -1]

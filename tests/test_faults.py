"""Faults injected into one inbox through the control plane: its next sends fail with the
chosen HTTP status or SMTP reply, or wait, and no other inbox notices."""

from __future__ import annotations

import smtplib
import threading
import time
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator
from mailbot import MailBot
from mailbot.exceptions import RateLimitError

from mailbot_sandbox import Sandbox
from tests.helpers import Api, send, smtp_message


def inject(api: Api, inbox: dict[str, Any], **fault: Any) -> dict[str, Any]:
    response = api.post(f"/sandbox/v1/inboxes/{inbox['id']}/faults", json=fault)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def fault_of(api: Api, inbox: dict[str, Any]) -> dict[str, Any]:
    response = api.get(f"/sandbox/v1/inboxes/{inbox['id']}/faults")
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def outbound(api: Api, inbox: dict[str, Any]) -> list[dict[str, Any]]:
    path = f"/v1/inboxes/{inbox['id']}/messages"
    return api.get(path, params={"direction": "outbound"}).json()["data"]  # type: ignore[no-any-return]


def test_the_sdk_retries_through_injected_failures(api: Api, sandbox: Sandbox) -> None:
    inbox, other = api.create_inbox(username="flaky"), api.create_inbox(username="steady")
    fault = inject(api, inbox, fail_next=2, status=503)
    assert fault["fail_next"] == 2 and fault["smtp_code"] == 451 and fault["applies_to"] == ["send"]
    client = MailBot(api_key=api.key, base_url=sandbox.api_url)
    try:
        sent = client.messages.send(inbox["id"], to=other["address"], subject="x", body_text="y")
    finally:
        client.close()
    assert sent["direction"] == "outbound" and sent["subject"] == "x"
    assert [m["id"] for m in outbound(api, inbox)] == [sent["id"]]  # failures sent nothing
    assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["sends_today"] == 1
    assert fault_of(api, inbox)["fail_next"] == 0


def test_an_injected_failure_has_the_contracts_body_and_retry_after(api: Api) -> None:
    inbox = api.create_inbox(username="limited")
    inject(api, inbox, fail_next=1, status=429, retry_after=7)
    response = api.post(
        f"/v1/inboxes/{inbox['id']}/messages",
        json={"to": "a@example.com", "subject": "x", "body_text": "y"},
    )
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert "injected fault" in error["message"] and inbox["address"] in error["message"]
    assert error["details"] == {"injected_fault": True, "remaining": 0}
    send(api, inbox, to="a@example.com")  # the one failure is used up


def test_the_sdk_raises_what_the_status_means(api: Api, sandbox: Sandbox) -> None:
    inbox = api.create_inbox(username="ratelimited")
    inject(api, inbox, fail_next=1, status=429)
    client = MailBot(api_key=api.key, base_url=sandbox.api_url)
    try:
        with pytest.raises(RateLimitError, match="injected fault"):
            client.messages.send(inbox["id"], to="a@example.com", subject="x", body_text="y")
    finally:
        client.close()


def test_replies_and_the_send_alias_fail_too(api: Api) -> None:
    inbox = api.create_inbox(username="replier")
    parent = send(api, inbox, to="a@example.com")
    inject(api, inbox, fail_next=2, status=500)
    reply = api.post(
        f"/v1/inboxes/{inbox['id']}/messages/{parent['id']}/reply", json={"body_text": "r"}
    )
    alias = api.post(
        "/v1/messages/send",
        json={"inbox_id": inbox["id"], "to": "a@example.com", "subject": "s", "body_text": "b"},
    )
    assert [reply.status_code, alias.status_code] == [500, 500]
    assert alias.json()["error"]["code"] == "internal_error"
    assert "Retry-After" not in alias.headers


def test_other_inboxes_are_not_affected(api: Api, make_api) -> None:
    inbox, sibling = api.create_inbox(username="broken"), api.create_inbox(username="sibling")
    inject(api, inbox, fail_next=5, status=503, latency_ms=2000)
    started = time.monotonic()
    send(api, sibling, to="a@example.com")
    stranger = make_api()
    send(stranger, stranger.create_inbox(username="stranger"), to="a@example.com")
    assert time.monotonic() - started < 1.5
    assert fault_of(api, inbox)["fail_next"] == 5


def test_latency_delays_only_that_inboxs_sends(api: Api) -> None:
    slow, fast = api.create_inbox(username="slow"), api.create_inbox(username="fast")
    inject(api, slow, latency_ms=800)
    timings: dict[str, float] = {}

    def timed_send(inbox: dict[str, Any]) -> None:
        started = time.monotonic()
        response = requests.post(
            f"{api.base_url}/v1/inboxes/{inbox['id']}/messages",
            json={"to": "a@example.com", "subject": "x", "body_text": "y"},
            headers={"Authorization": f"Bearer {api.key}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        timings[inbox["username"]] = time.monotonic() - started

    slow_thread = threading.Thread(target=timed_send, args=(slow,))
    slow_thread.start()
    timed_send(fast)
    slow_thread.join()
    assert timings[slow["username"]] >= 0.8
    assert timings[fast["username"]] < 0.6
    assert len(outbound(api, slow)) == 1  # latency alone fails nothing


def test_smtp_submissions_and_deliveries_get_the_chosen_reply(api: Api, sandbox: Sandbox) -> None:
    inbox, peer = api.create_inbox(username="smtpfault"), api.create_inbox(username="smtppeer")
    inject(api, inbox, fail_next=2, smtp_code=550, applies_to=["send", "receive"])
    raw = smtp_message(inbox["address"], [peer["address"]])
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
        client.login(inbox["address"], api.key)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(inbox["address"], [peer["address"]], raw)
    assert refused.value.smtp_code == 550
    assert b"5.3.0 injected fault" in refused.value.smtp_error
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as bounced:
            client.sendmail("someone@example.com", [inbox["address"]], raw)
        ((code, text),) = bounced.value.recipients.values()
        assert code == 550 and b"0 more to fail" in text
        client.sendmail("someone@example.com", [inbox["address"]], raw)  # used up
    assert len(api.get(f"/v1/inboxes/{inbox['id']}/messages").json()["data"]) == 1
    assert fault_of(api, inbox)["fail_next"] == 0


def test_smtp_latency_waits_on_the_loop_without_holding_other_sessions(
    api: Api, sandbox: Sandbox
) -> None:
    slow, fast = api.create_inbox(username="slowrcpt"), api.create_inbox(username="fastrcpt")
    inject(api, slow, latency_ms=1200, applies_to=["receive"])

    def deliver(inbox: dict[str, Any]) -> float:
        started = time.monotonic()
        raw = smtp_message("a@example.com", [inbox["address"]])
        with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
            client.sendmail("a@example.com", [inbox["address"]], raw)
        return time.monotonic() - started

    slow_took: list[float] = []
    slow_thread = threading.Thread(target=lambda: slow_took.append(deliver(slow)))
    started = time.monotonic()
    slow_thread.start()
    fast_took = []
    while time.monotonic() - started < 0.6:  # deliveries while the slow one waits
        fast_took.append(deliver(fast))
    slow_thread.join()
    assert slow_took[0] >= 1.2
    assert max(fast_took) < 0.4, fast_took
    listed = api.get(f"/v1/inboxes/{fast['id']}/messages", params={"limit": 1}).json()
    assert listed["meta"]["total"] == len(fast_took)


def test_get_delete_and_the_audit_log(api: Api) -> None:
    inbox = api.create_inbox(username="auditfault")
    path = f"/sandbox/v1/inboxes/{inbox['id']}/faults"
    missing = api.get(path)
    assert missing.status_code == 404 and "no fault set" in missing.json()["error"]["message"]
    inject(api, inbox, fail_next=3, status=502)
    assert fault_of(api, inbox)["status"] == 502
    assert api.delete(path).json()["data"] == {"deleted": 1}
    assert api.delete(path).json()["data"] == {"deleted": 0}
    send(api, inbox, to="a@example.com")
    log = api.get("/v1/audit-log", params={"inbox_id": inbox["id"]}).json()["data"]
    assert [e["action"] for e in log] == ["fault.cleared", "fault.set", "inbox.created"]
    assert log[1]["metadata"]["fail_next"] == 3 and log[1]["metadata"]["status"] == 502


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "fail_next or latency_ms"),
        ({"fail_next": 1, "status": 418}, "status"),
        ({"fail_next": 1, "status": 200}, "status"),
        ({"fail_next": 1, "smtp_code": 250}, "smtp_code"),
        ({"fail_next": -1}, "fail_next"),
        ({"fail_next": 1.0}, "fail_next"),
        ({"latency_ms": 60_000}, "latency_ms"),
        ({"fail_next": 1, "applies_to": []}, "applies_to"),
        ({"fail_next": 1, "applies_to": ["search"]}, "applies_to"),
        ({"fail_next": 1, "color": "red"}, "color"),
    ],
)
def test_bad_faults_are_400_naming_the_problem(api: Api, body: dict[str, Any], named: str) -> None:
    inbox = api.create_inbox(username="badfault")
    response = api.post(f"/sandbox/v1/inboxes/{inbox['id']}/faults", json=body)
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "taken"),
    [
        ({"fail_next": 1}, True),
        ({"latency_ms": 5, "fail_next": 0}, True),
        ({}, False),
        ({"applies_to": ["send", "receive"]}, False),
        ({"fail_next": 0, "latency_ms": 0, "status": 400}, False),
    ],
)
def test_the_document_allows_the_faults_the_server_takes(
    api: Api, body: dict[str, Any], taken: bool
) -> None:
    # A client generating requests from /v1/openapi.json sends only faults the server sets.
    document = api.get("/v1/openapi.json").json()
    path = "/sandbox/v1/inboxes/{inbox_id}/faults"
    declared = document["paths"][path]["post"]["requestBody"]
    schema = {
        **declared["content"]["application/json"]["schema"],
        "components": document["components"],
    }
    assert Draft202012Validator(schema).is_valid(body) == taken
    assert declared["required"]  # no body is no fault either
    inbox = api.create_inbox()
    response = api.post(path.format(inbox_id=inbox["id"]), json=body)
    assert response.status_code == (200 if taken else 400), response.text


def test_another_accounts_inbox_is_404(api: Api, make_api) -> None:
    inbox = api.create_inbox(username="mine")
    other = make_api()
    for method in ("GET", "POST", "DELETE"):
        response = other.request(
            method, f"/sandbox/v1/inboxes/{inbox['id']}/faults", json={"fail_next": 1}
        )
        assert response.status_code == 404
    send(api, inbox, to="a@example.com")

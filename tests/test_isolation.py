"""Isolation is total: every route that names an object, called with another account's id,
answers 404 as if the object did not exist, and changes nothing.

The routes come from /v1/openapi.json, so a route added later is walked too (and this test
fails until it knows how to make the object that route names)."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
import requests

from mailbot_sandbox import Sandbox
from tests.helpers import Api, send

# A body each route accepts, so that what answers is the ownership check, not validation.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/v1/inboxes/{inbox_id}"): {"display_name": "taken over"},
    ("post", "/v1/inboxes/{inbox_id}/messages"): {"to": "x@example.com", "body_text": "hi"},
    ("post", "/v1/inboxes/{inbox_id}/messages/{message_id}/reply"): {"body_text": "hi"},
    ("post", "/v1/messages/{message_id}/reply"): {"body_text": "hi"},
    ("post", "/v1/inboxes/{inbox_id}/messages/search"): {"query": "hello"},
    ("put", "/v1/inboxes/{inbox_id}/messages/{message_id}/labels"): {"labels": ["x"]},
    ("post", "/v1/inboxes/{inbox_id}/webhooks"): {
        "url": "http://127.0.0.1:9/hook",
        "events": ["message.received"],
    },
    ("post", "/sandbox/v1/inboxes/{inbox_id}/status"): {"status": "suspended"},
    ("post", "/sandbox/v1/inboxes/{inbox_id}/messages"): {"subject": "x", "body_text": "hi"},
    ("post", "/sandbox/v1/messages/{message_id}/simulate"): {"event": "opened"},
    ("post", "/sandbox/v1/inboxes/{inbox_id}/faults"): {"fail_next": 1},
}
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("get", "/v1/inboxes/{inbox_id}/messages/wait"): {"timeout_ms": "0"},
}


@pytest.fixture
def owned(api: Api) -> dict[str, str]:
    """One object of every kind, all in ``api``'s account: path parameter name -> id."""
    sender, receiver = api.create_inbox(), api.create_inbox()
    send(
        api,
        sender,
        to=[receiver["address"], "someone@example.com"],
        attachments=[{"filename": "a.txt", "content": base64.b64encode(b"hello").decode()}],
    )
    message = api.get(f"/v1/inboxes/{receiver['id']}/messages").json()["data"][0]
    domain = api.post("/v1/domains", json={"domain": "isolated.example"}).json()["data"]
    webhook = api.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["message.received"]}
    ).json()["data"]
    events = api.get("/v1/events").json()["data"]
    captured = api.get("/sandbox/v1/outbox").json()["data"][0]
    return {
        "inbox_id": receiver["id"],
        "message_id": message["id"],
        "thread_id": message["thread_id"],
        "attachment_id": message["attachments"][0]["id"],
        "domain_id": domain["id"],
        "webhook_id": webhook["id"],
        "event_id": events[0]["id"],
        "captured_id": captured["id"],
    }


def _routes(sandbox: Sandbox) -> list[tuple[str, str]]:
    document = requests.get(f"{sandbox.base_url}/v1/openapi.json", timeout=10).json()
    return [
        (method, path)
        for path, operations in document["paths"].items()
        if "{" in path
        for method, operation in operations.items()
        # A public route (a tracked mail's pixel and links) names no account's object.
        if operation.get("security")
    ]


def test_another_accounts_ids_are_404_on_every_route(
    sandbox: Sandbox, make_api: Any, api: Api, owned: dict[str, str]
) -> None:
    stranger = make_api()
    before = api.get(f"/v1/inboxes/{owned['inbox_id']}").json()["data"]
    walked = []
    for method, path in _routes(sandbox):
        names = re.findall(r"{(\w+)}", path)
        unknown = [name for name in names if name not in owned]
        assert not unknown, f"{method.upper()} {path}: make an object for {unknown} in owned()"
        url = path.format(**owned)
        response = stranger.request(
            method.upper(),
            url,
            json=BODIES.get((method, path), {}) if method != "get" else None,
            params=QUERIES.get((method, path)),
        )
        assert response.status_code == 404, f"{method.upper()} {url}: {response.text}"
        assert response.json()["error"]["code"] == "not_found"
        walked.append(f"{method.upper()} {path}")
    # Routes that name an inbox in their query string instead of their path.
    for path in ("/v1/realtime/stream", "/v1/events"):
        response = stranger.get(path, params={"inbox_id": owned["inbox_id"]})
        assert response.status_code == 404, f"GET {path}?inbox_id=...: {response.text}"
        walked.append(f"GET {path}?inbox_id")
    assert len(walked) >= 25  # every route with an id, not a handful
    after = api.get(f"/v1/inboxes/{owned['inbox_id']}").json()["data"]
    assert after == before  # nothing the stranger tried changed the inbox
    mail = api.get(f"/v1/inboxes/{owned['inbox_id']}/messages").json()["data"]
    assert [m["id"] for m in mail] == [owned["message_id"]]
    assert api.get(f"/v1/webhooks/{owned['webhook_id']}").status_code == 200
    assert api.get(f"/v1/domains/{owned['domain_id']}").status_code == 200


def test_another_accounts_ids_are_404_on_every_console_page(tmp_path: Any) -> None:
    """Signed in to a key-protected console, every page that names an object of another
    account answers 404; the pages come from the console's own URL rules."""
    from flask import Flask

    from mailbot_sandbox.console import bp
    from tests.console_pages import Visitor

    rules = Flask(__name__)
    rules.register_blueprint(bp)
    paths = sorted(
        (rule.rule, sorted(rule.methods or ()))
        for rule in rules.url_map.iter_rules()
        if rule.endpoint.startswith("console.") and "<" in rule.rule and "static" not in rule.rule
    )
    with Sandbox(db=str(tmp_path / "mail.db"), console_auth="key") as guarded:
        owner = Api(guarded.base_url, f"mb_owner_{tmp_path.name}")
        stranger_key = f"mb_stranger_{tmp_path.name}"
        inbox = owner.create_inbox()
        message = send(
            owner,
            inbox,
            to=[inbox["address"], "someone@example.com"],
            attachments=[{"filename": "a.txt", "content": base64.b64encode(b"hi").decode()}],
        )
        domain = owner.post("/v1/domains", json={"domain": "walled.example"}).json()["data"]
        event = owner.get("/v1/events").json()["data"][0]
        captured = owner.get("/sandbox/v1/outbox").json()["data"][0]
        ids = {
            "inbox_id": inbox["id"],
            "message_id": message["id"],
            "attachment_id": message["attachments"][0]["id"],
            "domain_id": domain["id"],
            "event_id": event["id"],
            "captured_id": captured["id"],
        }
        stranger = Visitor(guarded.base_url)
        assert "/sign-in" not in stranger.sign_in(stranger_key).url
        token = stranger.page("/").csrf()
        walked = []
        for rule, methods in paths:
            url = re.sub(r"<(\w+)>", lambda found: ids[found.group(1)], rule)
            for method in set(methods) & {"GET", "POST"}:
                response = stranger.session.request(
                    method, guarded.base_url + url, data={"csrf_token": token}, timeout=30
                )
                assert response.status_code == 404, f"{method} {url}: {response.text[:300]}"
                walked.append(f"{method} {rule}")
        assert len(walked) >= 10
        after = owner.get(f"/v1/inboxes/{inbox['id']}").json()["data"]
        assert after["status"] == "active" and after["message_count"] == 2  # sent + received
        stranger.close()
        owner.close()

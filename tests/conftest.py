"""Shared fixtures: one real sandbox per test session (per xdist worker), fresh accounts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from mailbot_sandbox import Sandbox


class Api:
    """A real HTTP client bound to one API key (so to one sandbox account)."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.key = key
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create_inbox(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("username", f"u{uuid.uuid4().hex[:10]}")
        response = self.post("/v1/inboxes", json=fields)
        assert response.status_code == 201, response.text
        return response.json()["data"]  # type: ignore[no-any-return]

    def close(self) -> None:
        self.session.close()


def fresh_key() -> str:
    return f"mb_test_{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def make_api(sandbox: Sandbox) -> Iterator[Callable[..., Api]]:
    """Clients for fresh accounts (or a given key) on the session's sandbox."""
    made: list[Api] = []

    def make(key: str | None = None, target: Sandbox | None = None) -> Api:
        client = Api((target or sandbox).base_url, key or fresh_key())
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """A client for a brand-new account: nothing another test made is visible to it."""
    return make_api()


def send(api: Api, inbox: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Send through the API and return the sender's copy; fails the test on any error."""
    fields.setdefault("subject", "Hello")
    fields.setdefault("body_text", "Hi there")
    response = api.post(f"/v1/inboxes/{inbox['id']}/messages", json=fields)
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def smtp_message(sender: str, to: list[str], subject: str = "Hello", body: str = "Hi") -> bytes:
    from email.message import EmailMessage
    from email.utils import make_msgid

    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="client.example")
    message.set_content(body)
    return message.as_bytes()

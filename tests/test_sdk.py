"""The published mailbot-sdk, unchanged, against a running sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mailbot import MailBot
from mailbot.exceptions import AuthError, ComplianceError, MailBotError, NotFoundError

from mailbot_sandbox import Sandbox
from tests.helpers import fresh_key


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[MailBot]:
    mailbot = MailBot(api_key=fresh_key(), base_url=sandbox.api_url)
    yield mailbot
    mailbot.close()


def test_blog_example_creates_five_inboxes(client: MailBot) -> None:
    inboxes = {
        "onboarding": {"permissions": ["send"], "limit": 500},
        "support": {"permissions": ["send", "receive", "search"], "limit": 1000},
        "notifications": {"permissions": ["send"], "limit": 5000},
        "billing": {"permissions": ["send", "receive"], "limit": 200},
        "testing": {"permissions": ["send", "receive", "search"], "limit": 50},
    }
    domain = "yourdomain.com"  # the example's own domain: unique per account, not globally
    for name, config in inboxes.items():
        client.inboxes.create(
            username=name,
            domain=domain,
            permissions=config["permissions"],
            daily_send_limit=config["limit"],
        )
    listed = client.inboxes.list()
    assert listed["meta"]["total"] == 5
    assert {i["address"] for i in listed["data"]} == {f"{n}@{domain}" for n in inboxes}


def test_inbox_get_and_delete_disables(client: MailBot) -> None:
    created = client.inboxes.create(
        username="support", display_name="Support", permissions=["send", "receive", "search"]
    )
    assert client.inboxes.get(created["id"]) == created
    disabled = client.inboxes.delete(created["id"])
    assert disabled["status"] == "disabled"
    assert client.inboxes.list(status="disabled")["meta"]["total"] == 1


def test_sdk_errors_map_to_its_exceptions(client: MailBot, sandbox: Sandbox) -> None:
    with pytest.raises(NotFoundError):
        client.inboxes.get("inb_missing")
    with pytest.raises(MailBotError) as bad:
        client.inboxes.create(username="bad name")
    assert "username" in str(bad.value)
    unauthenticated = MailBot(api_key="not_a_key", base_url=sandbox.api_url)
    with pytest.raises(AuthError):
        unauthenticated.inboxes.list()
    unauthenticated.close()


def test_domains_resource(client: MailBot) -> None:
    domain = client.domains.create(domain="acme-sdk.example")
    assert domain["status"] == "pending"
    assert client.domains.get(domain["id"])["domain"] == "acme-sdk.example"
    assert client.domains.list()["data"][0]["id"] == domain["id"]
    verified = client.domains.verify(domain["id"])
    assert verified["data"]["status"] == "verified" and "next_step" in verified
    assert client.domains.delete(domain["id"])["id"] == domain["id"]
    with pytest.raises(NotFoundError):
        client.domains.get(domain["id"])


def test_strict_domain_policy_raises_compliance_error() -> None:
    with Sandbox(domain_policy="strict") as strict:
        mailbot = MailBot(api_key=fresh_key(), base_url=strict.api_url)
        with pytest.raises(ComplianceError):
            mailbot.inboxes.create(username="sales", domain="unverified.example")
        mailbot.close()

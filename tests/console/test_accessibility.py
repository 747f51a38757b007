"""Every console page passes axe-core without serious or critical violations, and fits a
phone's width without scrolling sideways."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from mailbot_sandbox import Sandbox
from tests.console.browser import (
    PHONE,
    describe_violations,
    horizontal_overflow,
    serious_violations,
)
from tests.helpers import Api, fresh_key, mail_by_smtp, send

PAGES = ["overview", "inbox", "search", "message", "domains", "webhooks", "outbox"]


def seeded(api: Api, sandbox: Sandbox) -> dict[str, str]:
    """An account with an inbox that has sent and received mail; the path of each page."""
    inbox = api.create_inbox()
    message = EmailMessage()
    message["From"] = "Alice Example <alice@example.com>"
    message["To"] = inbox["address"]
    message["Subject"] = "A rather long subject line that a phone has to wrap somewhere"
    message.set_content(
        "Hello\n\nhttps://example.com/a/very/long/link/that/must/not/widen/the/page"
    )
    message.add_alternative(
        "<table width='900'><tr><td><p>Wide newsletter layout</p></td></tr></table>",
        subtype="html",
    )
    mail_by_smtp(sandbox, inbox, message.as_bytes())
    send(api, inbox, to=["captured@example.net"], subject="Off to the outside world")
    received = api.get(f"/v1/inboxes/{inbox['id']}/messages?direction=inbound").json()["data"]
    return {
        "overview": f"/?account={inbox['account_id']}",
        "inbox": f"/inboxes/{inbox['id']}",
        "search": f"/inboxes/{inbox['id']}?q=alice",
        "message": f"/inboxes/{inbox['id']}/messages/{received[0]['id']}",
        "domains": "/domains",
        "webhooks": "/webhooks",
        "outbox": "/outbox",
    }


@pytest.fixture(scope="module")
def paths(sandbox: Sandbox) -> dict[str, str]:
    """The pages of one seeded account on the session's sandbox, seeded once per module."""
    api = Api(sandbox.base_url, fresh_key())
    try:
        return seeded(api, sandbox)
    finally:
        api.close()


@pytest.mark.parametrize("name", PAGES)
def test_no_serious_accessibility_violations(
    axe_page: Page, paths: dict[str, str], name: str
) -> None:
    response = axe_page.goto(paths[name])
    assert response is not None and response.ok, response and response.status
    violations = serious_violations(axe_page)
    assert not violations, f"{name} page:\n{describe_violations(violations)}"


def test_sign_in_page_has_no_serious_accessibility_violations(
    axe_available: None, new_context: Callable[..., BrowserContext], key_sandbox: Sandbox
) -> None:
    page = new_context(key_sandbox, bypass_csp=True).new_page()
    page.goto("/sign-in")
    expect(page.get_by_label("API key")).to_be_visible()
    violations = serious_violations(page)
    assert not violations, describe_violations(violations)


@pytest.mark.parametrize("name", ["overview", "inbox", "message"])
def test_phone_width_has_no_sideways_scroll(
    new_context: Callable[..., BrowserContext], paths: dict[str, str], name: str
) -> None:
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    response = page.goto(paths[name])
    assert response is not None and response.ok
    overflow: Any = horizontal_overflow(page)
    assert overflow <= 0, f"{name} page is {overflow}px wider than a {PHONE['width']}px phone"

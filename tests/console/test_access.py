"""Signing in to a console that asks for a key: a person sees their own account and no
other, and another account's pages are as missing as if they did not exist."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, expect

from mailbot_sandbox import Sandbox
from tests.helpers import Api, send


def test_signed_in_with_a_key_sees_only_that_account(
    key_sandbox: Sandbox, make_api: Callable[..., Api], new_context: Callable[..., BrowserContext]
) -> None:
    mine, theirs = make_api(target=key_sandbox), make_api(target=key_sandbox)
    my_inbox = mine.create_inbox()
    their_inbox = theirs.create_inbox()
    send(theirs, their_inbox, to=[my_inbox["address"]], subject="From next door")
    page = new_context(key_sandbox).new_page()

    page.goto("/")
    expect(page).to_have_url(f"{key_sandbox.base_url}/sign-in?next=/")
    page.get_by_label("API key").fill("not-an-api-key")
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("signin-error")).to_be_visible()

    page.get_by_label("API key").fill(mine.key)
    page.get_by_test_id("signin-submit").click()

    expect(page.get_by_test_id("inbox-card")).to_have_count(1)
    expect(page.get_by_test_id("inbox-address")).to_have_text(my_inbox["address"])
    expect(page.get_by_text(their_inbox["address"])).to_have_count(0)
    response = page.goto(f"/inboxes/{their_inbox['id']}")
    assert response is not None and response.status == 404
    expect(page.get_by_text(their_inbox["address"])).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    page.goto(f"/inboxes/{my_inbox['id']}")
    expect(page.get_by_label("API key")).to_be_visible()

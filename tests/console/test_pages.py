"""The console's pages in a real browser: each inbox's own figures, reading a message,
searching, and acting on an inbox. Data goes in through the API and SMTP, as an app's would."""

from __future__ import annotations

import re
import uuid
from email.message import EmailMessage
from typing import Any

from playwright.sync_api import Page, expect

from mailbot_sandbox import Sandbox
from tests.console.browser import screenshot
from tests.helpers import Api, mail_by_smtp, send


def mail(
    sandbox: Sandbox, inbox: dict[str, Any], subject: str, text: str = "Hi", html: str = ""
) -> None:
    """Deliver a message (plain text, or text and HTML) from outside the sandbox to
    ``inbox`` over SMTP."""
    message = EmailMessage()
    message["From"] = "Alice Example <alice@example.com>"
    message["To"] = inbox["address"]
    message["Subject"] = subject
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    mail_by_smtp(sandbox, inbox, message.as_bytes())


REPORT_HTML = """<div style="font-family: sans-serif; max-width: 560px">
<h2 style="color: #1d4ed8">Quarterly report</h2>
<p>Hi team, the figures for the quarter are in.</p>
<table style="border-collapse: collapse">
<tr><td style="padding: 4px 12px">Signups</td><td><b>+18%</b></td></tr>
<tr><td style="padding: 4px 12px">Churn</td><td><b>-3%</b></td></tr>
</table>
<p><a href="https://example.com/reports/q3">Read the full report</a></p>
</div>"""


def card(page: Page, inbox: dict[str, Any]) -> Any:
    """The overview card of ``inbox``."""
    return page.locator(f'[data-testid="inbox-card"][data-inbox-id="{inbox["id"]}"]')


def test_overview_counts_each_inbox_on_its_own(page: Page, api: Api, sandbox: Sandbox) -> None:
    quiet = api.create_inbox(username=f"quiet{uuid.uuid4().hex[:6]}")
    busy = api.create_inbox(username=f"busy{uuid.uuid4().hex[:6]}")
    mail(sandbox, busy, "Your order has shipped")
    mail(sandbox, busy, "Your invoice")
    mail(sandbox, busy, "Re: Your invoice")
    send(api, busy, to=["someone@example.net"], subject="Welcome aboard")

    page.goto(f"/?account={busy['account_id']}")

    expect(page.get_by_test_id("inbox-card")).to_have_count(2)
    expect(card(page, busy).get_by_test_id("message-count")).to_have_text("4")
    expect(card(page, busy).get_by_test_id("thread-count")).to_have_text("3")
    expect(card(page, busy).get_by_test_id("sends-today")).to_have_text("1")
    expect(card(page, quiet).get_by_test_id("message-count")).to_have_text("0")
    expect(card(page, quiet).get_by_test_id("thread-count")).to_have_text("0")
    expect(card(page, quiet).get_by_test_id("sends-today")).to_have_text("0")
    expect(card(page, busy).get_by_test_id("inbox-address")).to_have_text(busy["address"])
    screenshot(page, "overview")


def test_open_a_message_from_its_inbox(page: Page, api: Api, sandbox: Sandbox) -> None:
    inbox = api.create_inbox()
    mail(sandbox, inbox, "Weekly digest", "Nothing new this week.")
    mail(sandbox, inbox, "Quarterly report", "The figures are attached in spirit.", REPORT_HTML)

    page.goto(f"/inboxes/{inbox['id']}")
    expect(page.get_by_test_id("message-row")).to_have_count(2)
    screenshot(page, "inbox")
    page.get_by_role("link", name="Quarterly report").click()

    expect(page).to_have_url(re.compile(rf"/inboxes/{inbox['id']}/messages/msg_"))
    expect(page.get_by_role("heading", name="Quarterly report")).to_be_visible()
    expect(page.get_by_text("The figures are attached in spirit.").first).to_be_visible()
    expect(page.get_by_text("alice@example.com").first).to_be_visible()
    report = page.frame_locator("iframe").first
    expect(report.get_by_role("link", name="Read the full report")).to_be_visible()
    screenshot(page, "message")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(r"\.eml|raw|source", re.IGNORECASE)).click()
    assert b"Subject: Quarterly report" in download.value.path().read_bytes()


def test_page_through_the_threads_and_open_one(page: Page, api: Api) -> None:
    inbox = api.create_inbox()
    for number in range(22):  # a first page of 20 threads, then 2
        injected = api.post(
            f"/sandbox/v1/inboxes/{inbox['id']}/messages",
            json={"subject": f"Order {number}", "body_text": "Thanks for your order."},
        )
        assert injected.status_code == 201, injected.text

    page.goto(f"/inboxes/{inbox['id']}")
    threads = page.get_by_test_id("thread-row")
    expect(threads).to_have_count(20)
    expect(threads.first).to_contain_text("Order 21")
    pages = page.get_by_role("navigation", name="Pages of threads")
    expect(pages).to_contain_text("Page 1 of 2")
    pages.get_by_role("link", name="Older").click()

    expect(threads).to_have_count(2)
    expect(threads.first).to_contain_text("Order 1")
    expect(pages).to_contain_text("Page 2 of 2")
    page.get_by_role("link", name="Show thread").first.click()
    expect(page.get_by_test_id("message-row")).to_have_count(1)
    expect(page.get_by_test_id("message-row")).to_contain_text("Order 1")
    expect(pages).to_contain_text("Page 2 of 2")  # the list stayed where it was
    pages.get_by_role("link", name="Newer").click()
    expect(threads).to_have_count(20)


def test_search_finds_only_the_matching_mail(page: Page, api: Api, sandbox: Sandbox) -> None:
    inbox = api.create_inbox()
    mail(sandbox, inbox, "Invoice 2041 is ready", "Please pay by Friday.")
    mail(sandbox, inbox, "Team lunch", "Pizza at noon.")
    mail(sandbox, inbox, "Reminder", "The invoice is still open.")

    page.goto(f"/inboxes/{inbox['id']}")
    page.get_by_test_id("search-input").fill("subject:invoice")
    page.get_by_test_id("search-input").press("Enter")

    rows = page.get_by_test_id("message-row")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Invoice 2041 is ready")
    page.get_by_test_id("search-input").fill("invoice")
    page.get_by_test_id("search-input").press("Enter")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Team lunch")).to_have_count(0)

    page.get_by_test_id("search-input").fill("has:pictures")
    page.get_by_test_id("search-input").press("Enter")
    expect(page.get_by_test_id("search-error")).to_contain_text("has:")
    expect(rows).to_have_count(0)


def test_disabling_an_inbox_shows_and_refuses_its_sends(page: Page, api: Api) -> None:
    inbox = api.create_inbox()
    send(api, inbox, to=["friend@example.net"])

    page.goto(f"/inboxes/{inbox['id']}")
    expect(page.get_by_test_id("inbox-status")).to_have_text("active")
    page.get_by_test_id("set-disabled").click()

    expect(page.get_by_test_id("inbox-status")).to_have_text("disabled")
    refused = api.post(
        f"/v1/inboxes/{inbox['id']}/messages",
        json={"to": ["friend@example.net"], "subject": "Again", "body_text": "Hi"},
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "inbox_disabled"
    assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["status"] == "disabled"

    page.get_by_test_id("set-active").click()
    expect(page.get_by_test_id("inbox-status")).to_have_text("active")
    send(api, inbox, to=["friend@example.net"])


def test_new_mail_appears_without_a_reload(page: Page, api: Api, sandbox: Sandbox) -> None:
    inbox = api.create_inbox()
    mail(sandbox, inbox, "Already here")
    # The page's stream answering is the signal that the server follows the inbox from now
    # on: mail sent before it would already be on the page.
    with page.expect_response(lambda response: response.url.endswith("/stream")):
        page.goto(f"/inboxes/{inbox['id']}")
    expect(page.get_by_test_id("message-row")).to_have_count(1)
    # A mark on this very document: a reload would start a fresh one without it.
    page.evaluate("() => { window.sameDocument = true }")

    mail(sandbox, inbox, "Fresh off the wire")

    expect(page.get_by_test_id("message-row")).to_have_count(2)
    expect(page.get_by_test_id("message-row").first).to_contain_text("Fresh off the wire")
    assert page.evaluate("() => window.sameDocument") is True

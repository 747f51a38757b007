"""A mail's HTML is the least trusted thing the console shows: its scripts and event
handlers never run, and it fetches nothing from elsewhere until the reader asks."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from mailbot_sandbox import Sandbox
from tests.console.browser import Tripwire
from tests.helpers import Api, mail_by_smtp

TITLE_MARK = "owned by the mail"


@pytest.fixture
def tripwire() -> Iterator[Tripwire]:
    """A local "remote" server that records whatever a mail makes the browser request."""
    with Tripwire() as server:
        yield server


def hostile_mail(sandbox: Sandbox, inbox: dict[str, Any], tripwire: Tripwire) -> None:
    """A newsletter whose HTML tries to run script three ways and tracks its reader."""
    html = f"""<html><body>
<h1>Spring sale</h1>
<p>Everything must go.</p>
<script>
  window.mailScriptRan = true;
  parent.document.title = "{TITLE_MARK}";
  fetch("{tripwire.url("/script")}");
</script>
<img alt="broken" src="cid:missing-part"
     onerror="window.mailScriptRan = true; parent.document.title = '{TITLE_MARK}';
              new Image().src = '{tripwire.url("/onerror")}'">
<img alt="Sale banner" src="{tripwire.url("/banner.png")}" width="1" height="1">
</body></html>"""
    message = EmailMessage()
    message["From"] = "Shop <deals@shop.example>"
    message["To"] = inbox["address"]
    message["Subject"] = "Spring sale"
    message.set_content("Everything must go.")
    message.add_alternative(html, subtype="html")
    mail_by_smtp(sandbox, inbox, message.as_bytes())


def open_only_message(page: Page, api: Api, inbox: dict[str, Any]) -> None:
    listed = api.get(f"/v1/inboxes/{inbox['id']}/messages").json()["data"]
    page.goto(f"/inboxes/{inbox['id']}/messages/{listed[0]['id']}")


def test_scripts_in_mail_do_not_run_and_remote_images_wait(
    page: Page, api: Api, sandbox: Sandbox, tripwire: Tripwire
) -> None:
    inbox = api.create_inbox()
    hostile_mail(sandbox, inbox, tripwire)
    scripts_seen: list[str] = []
    page.on("console", lambda line: scripts_seen.append(line.text))

    open_only_message(page, api, inbox)
    body = page.frame_locator("iframe").first
    expect(body.get_by_role("heading", name="Spring sale")).to_be_visible()
    title = page.title()

    assert TITLE_MARK not in title
    assert page.evaluate("() => window.mailScriptRan") is None
    frame = next(f for f in page.frames if f != page.main_frame)
    assert frame.evaluate("() => window.mailScriptRan === undefined")
    # The image's request would have been made while the frame loaded; nothing came.
    assert not tripwire.wait_for("/banner.png", timeout=1), tripwire.paths
    assert tripwire.paths == []

    page.get_by_role("link", name="Load remote images").or_(
        page.get_by_role("button", name="Load remote images")
    ).click()

    assert tripwire.wait_for("/banner.png"), "the remote image was not fetched when asked for"
    expect(page.frame_locator("iframe").first.get_by_role("heading")).to_have_text("Spring sale")
    assert TITLE_MARK not in page.title()
    assert "/script" not in tripwire.paths and "/onerror" not in tripwire.paths

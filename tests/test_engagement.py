"""Engagement end to end: tracked mail opened and clicked with plain GETs, simulator
recipients, the control plane's simulate, and the /v1/engagement reports through the SDK."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import Message
from html.parser import HTMLParser
from typing import Any

import pytest
import requests
from mailbot import MailBot
from mailbot.exceptions import MailBotError, NotFoundError

from mailbot_sandbox import Sandbox
from tests.helpers import Api, send

SIMULATOR = "simulator.mailbot.id"
HTML = (
    '<html><body><p>Hi, <a href="https://shop.example/cart?item=1&amp;q=2">your cart</a>'
    ' and <a href="mailto:help@shop.example">help</a>.</p></body></html>'
)


class _Parts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(found["href"] or "")
        if tag == "img" and found.get("src"):
            self.images.append(found["src"] or "")


def parts(html: str) -> _Parts:
    parsed = _Parts()
    parsed.feed(html)
    return parsed


def html_of(raw: bytes) -> str:
    message = email.message_from_bytes(raw)
    for part in message.walk():
        if isinstance(part, Message) and part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8").rstrip()
    raise AssertionError("no HTML part")


@pytest.fixture
def client(sandbox: Sandbox, api: Api) -> Iterator[MailBot]:
    mailbot = MailBot(api_key=api.key, base_url=sandbox.api_url)
    yield mailbot
    mailbot.close()


def _tracked_send(api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    sender, receiver = api.create_inbox(), api.create_inbox()
    sent = send(
        api,
        sender,
        to=[receiver["address"], "someone@example.com"],
        body_html=HTML,
        track_opens=True,
        track_clicks=True,
    )
    return sender, receiver, sent


def test_recipients_get_a_pixel_and_sandbox_links_the_sender_keeps_the_original(
    sandbox: Sandbox, api: Api
) -> None:
    sender, receiver, sent = _tracked_send(api)
    assert sent["body_html"] == HTML
    own_raw = api.get(f"/v1/inboxes/{sender['id']}/messages/{sent['id']}/raw").content
    assert html_of(own_raw) == HTML

    got = api.get(f"/v1/inboxes/{receiver['id']}/messages").json()["data"][0]
    delivered = parts(got["body_html"])
    assert delivered.links[0].startswith(f"{sandbox.base_url}/t/c/")
    assert delivered.links[1] == "mailto:help@shop.example"  # not a web link: left alone
    assert len(delivered.images) == 1
    assert delivered.images[0].startswith(f"{sandbox.base_url}/t/o/")
    raw = api.get(f"/v1/inboxes/{receiver['id']}/messages/{got['id']}/raw").content
    assert parts(html_of(raw)).links == delivered.links

    captured = api.get("/sandbox/v1/outbox").json()["data"][0]
    outside = api.get(f"/sandbox/v1/outbox/{captured['id']}/raw").content
    assert parts(html_of(outside)).images == delivered.images


def test_a_get_of_the_pixel_or_a_link_records_an_open_or_a_click(client: MailBot, api: Api) -> None:
    _, receiver, sent = _tracked_send(api)
    got = api.get(f"/v1/inboxes/{receiver['id']}/messages").json()["data"][0]
    delivered = parts(got["body_html"])

    pixel = requests.get(delivered.images[0], timeout=10)
    assert pixel.status_code == 200
    assert pixel.headers["Content-Type"] == "image/gif"
    requests.get(delivered.images[0], timeout=10)
    click = requests.get(delivered.links[0], allow_redirects=False, timeout=10)
    assert click.status_code == 302
    assert click.headers["Location"] == "https://shop.example/cart?item=1&q=2"
    requests.head(delivered.links[0], timeout=10)  # a link checker looks, does not click

    timeline = client.engagement.message_timeline(sent["id"])
    assert [e["event"] for e in timeline["events"]] == ["delivered", "opened", "opened", "clicked"]
    assert (timeline["opens"], timeline["clicks"]) == (2, 1)
    assert timeline["events"][-1]["url"] == "https://shop.example/cart?item=1&q=2"
    clicks = client.engagement.events(event="clicked")
    assert clicks["meta"]["total"] == 1
    assert clicks["data"][0]["message_id"] == sent["id"]
    events = api.get("/v1/events", params={"type": "message.clicked"}).json()["data"]
    assert events[0]["data"]["url"] == "https://shop.example/cart?item=1&q=2"


def test_an_unknown_tracking_token_is_a_404_naming_it(sandbox: Sandbox) -> None:
    for path in ("/t/o/nothing.gif", "/t/c/nothing"):
        response = requests.get(sandbox.base_url + path, allow_redirects=False, timeout=10)
        assert response.status_code == 404
        assert "tracked" in response.json()["error"]["message"]


def test_untracked_mail_is_delivered_as_written(api: Api) -> None:
    sender, receiver = api.create_inbox(), api.create_inbox()
    send(api, sender, to=receiver["address"], body_html=HTML)
    got = api.get(f"/v1/inboxes/{receiver['id']}/messages").json()["data"][0]
    assert got["body_html"] == HTML


def test_simulator_recipients_produce_their_events(client: MailBot, api: Api) -> None:
    sender = api.create_inbox()
    for local, status in (("delivered", "delivered"), ("bounce", "bounced")):
        sent = send(api, sender, to=f"{local}@{SIMULATOR}")
        assert sent["status"] == status
    sent = send(api, sender, to=f"complaint@{SIMULATOR}")
    assert sent["status"] == "complained"
    kinds = [e["event"] for e in client.engagement.events(inbox_id=sender["id"])["data"]]
    assert kinds == ["complained", "bounced", "delivered"]


def test_simulate_on_any_message_and_its_errors(client: MailBot, api: Api, make_api) -> None:
    sender = api.create_inbox()
    sent = send(api, sender, to="someone@example.com")
    path = f"/sandbox/v1/messages/{sent['id']}/simulate"
    response = api.post(path, json={"event": "delivered"})
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "delivered"
    api.post(path, json={"event": "message.clicked", "url": "https://a.example/x"})
    assert api.post(path, json={"event": "bounced"}).json()["data"]["status"] == "bounced"
    timeline = client.engagement.message_timeline(sent["id"])
    assert [e["event"] for e in timeline["events"]] == ["delivered", "clicked", "bounced"]
    assert timeline["events"][1]["url"] == "https://a.example/x"

    unknown = api.post(path, json={"event": "exploded"})
    assert unknown.status_code == 400
    message = unknown.json()["error"]["message"]
    assert "exploded" in message
    assert "delivered, opened, clicked, bounced, complained" in message
    assert make_api().post(path, json={"event": "opened"}).status_code == 404
    with pytest.raises(NotFoundError):
        client.engagement.message_timeline("msg_nothing")


def test_stats_count_and_rate_per_inbox_and_follow_the_account_clock(
    client: MailBot, api: Api
) -> None:
    first, second = api.create_inbox(), api.create_inbox()
    for _ in range(3):
        send(api, first, to=f"delivered@{SIMULATOR}")
    send(api, first, to=f"bounce@{SIMULATOR}")
    send(api, second, to="someone@example.com")
    stats = client.engagement.stats(period="24h")["data"]
    assert (stats["sent"], stats["delivered"], stats["bounced"]) == (5, 3, 1)
    assert stats["bounce_rate"] == 0.2
    mine = client.engagement.stats(inbox_id=first["id"], period="7d")["data"]
    assert (mine["sent"], mine["delivery_rate"], mine["bounce_rate"]) == (4, 0.75, 0.25)
    assert [one["inbox_id"] for one in mine["inboxes"]] == [first["id"]]

    api.post("/sandbox/v1/clock", json={"advance_seconds": 2 * 86400})
    assert client.engagement.stats(period="24h")["data"]["sent"] == 0
    assert client.engagement.stats(period="7d")["data"]["sent"] == 5
    with pytest.raises(MailBotError) as bad:
        client.engagement.stats(period="1y")
    assert "period" in str(bad.value)
    with pytest.raises(MailBotError) as bad:
        client.engagement.events(event="sent")
    assert "allowed" in str(bad.value)


def test_reports_of_an_unknown_inbox_are_404(client: MailBot) -> None:
    with pytest.raises(NotFoundError):
        client.engagement.events(inbox_id="inb_nothing")
    with pytest.raises(NotFoundError):
        client.engagement.stats(inbox_id="inb_nothing")

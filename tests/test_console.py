"""The web console over real HTTP: what each page shows, what its actions change, and the
walls around it (sign-in, CSRF, Content-Security-Policy). Browser-driven tests live in
tests/console/."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from mailbot_sandbox import Sandbox
from tests.console_pages import Page, Visitor
from tests.helpers import Api, fresh_key, mail_by_smtp, send


@pytest.fixture
def visitor(sandbox: Sandbox) -> Iterator[Visitor]:
    """Someone at the open console of the session's sandbox."""
    person = Visitor(sandbox.base_url)
    yield person
    person.close()


def _account_of(inbox: dict[str, Any]) -> str:
    return str(inbox["account_id"])


def test_the_overview_shows_each_inbox_with_its_own_counts(visitor: Visitor, api: Api) -> None:
    busy, quiet = api.create_inbox(), api.create_inbox(permissions=["receive"])
    send(api, busy, to=[busy["address"]], subject="one")
    send(api, busy, to=[busy["address"], "someone@example.com"], subject="two")
    page = visitor.page(f"/?account={_account_of(busy)}")
    cards = {card.attrs["data-inbox-id"]: card for card in page.by_testid("inbox-card")}
    assert set(cards) == {busy["id"], quiet["id"]}
    figures = dict(zip(page.texts("inbox-address"), page.texts("message-count"), strict=True))
    assert figures == {busy["address"]: "4", quiet["address"]: "0"}  # 2 sent + 2 received
    threads = dict(zip(page.texts("inbox-address"), page.texts("thread-count"), strict=True))
    assert threads[busy["address"]] == "2"
    sends = dict(zip(page.texts("inbox-address"), page.texts("sends-today"), strict=True))
    assert sends == {busy["address"]: "2", quiet["address"]: "0"}
    assert (
        dict(zip(page.texts("inbox-address"), page.texts("inbox-permissions"), strict=True))[
            quiet["address"]
        ]
        == "receive"
    )
    chart = page.by_testid("send-chart")[page.texts("inbox-address").index(busy["address"])]
    assert chart.attrs["aria-label"] == "Sends in the last 14 days: 2"


def test_the_overview_filters_by_status_and_domain(visitor: Visitor, api: Api) -> None:
    kept, stopped = api.create_inbox(), api.create_inbox()
    api.delete(f"/v1/inboxes/{stopped['id']}")
    account = _account_of(kept)
    disabled = visitor.page(f"/?account={account}&status=disabled")
    assert disabled.texts("inbox-address") == [stopped["address"]]
    assert (
        visitor.page(f"/?account={account}&domain=elsewhere.example").texts("inbox-address") == []
    )
    assert len(visitor.page(f"/?account={account}&domain=mailbot.id").by_testid("inbox-card")) == 2


def test_bad_filters_and_pages_are_explained_not_crashes(visitor: Visitor) -> None:
    for path, words in [
        ("/?status=sleeping", "status must be one of"),
        ("/?page=zero", "page must be a whole number"),
        ("/?account=acc_nobody", "account 'acc_nobody' not found"),
        ("/inboxes/inb_nobody", "inbox 'inb_nobody' not found"),
    ]:
        response = visitor.get(path)
        assert response.status_code in (400, 404), path
        assert words in Page(response.text).one("error-message").text


def test_every_page_forbids_inline_and_foreign_scripts(
    visitor: Visitor, api: Api, sandbox: Sandbox
) -> None:
    inbox = api.create_inbox()
    message = send(api, inbox, to=[inbox["address"]], subject="csp", body_html="<p>hi</p>")
    for path in [
        "/",
        "/domains",
        "/webhooks",
        "/outbox",
        f"/inboxes/{inbox['id']}",
        f"/inboxes/{inbox['id']}/messages/{message['id']}",
    ]:
        response = visitor.get(path)
        assert response.status_code == 200, path
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy, path
        assert "unsafe-inline" not in policy.split("style-src")[0], path
        page = Page(response.text)
        scripts = [e for e in page.elements if e.tag == "script"]
        assert scripts and all(e.attrs.get("src", "").startswith("/console/") for e in scripts)
        handlers = [(e.tag, a) for e in page.elements for a in e.attrs if a.startswith("on")]
        assert not handlers, path


def test_a_mails_html_runs_no_script_and_fetches_nothing_until_asked(
    visitor: Visitor, api: Api
) -> None:
    inbox = api.create_inbox()
    html = (
        '<p>Hello</p><script>document.title="owned"</script>'
        '<img src="https://tracker.example/pixel.gif" onerror="alert(1)">'
        '<a href="https://example.com/confirm?t=1">Confirm</a>'
    )
    message = send(api, inbox, to=[inbox["address"]], subject="html", body_html=html)
    page_path = f"/inboxes/{inbox['id']}/messages/{message['id']}"
    page = visitor.page(page_path)
    frame = page.one("body-frame")
    assert frame.tag == "iframe" and frame.attrs["sandbox"] == ""  # no allow-* at all
    body = visitor.get(frame.attrs["src"])
    policy = body.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert re.search(r"img-src data: cid:;", policy)  # no remote images yet
    assert body.text == html  # the mail as written, made harmless by the policy
    remote = visitor.get(frame.attrs["src"] + "?remote=1").headers["Content-Security-Policy"]
    assert "img-src data: cid: https: http:" in remote and "script-src" not in remote
    assert page.one("load-remote").attrs["href"].startswith("?remote=1")
    assert "https://example.com/confirm?t=1" in page.one("links").text


def test_the_message_page_shows_text_headers_thread_and_the_raw_source(
    visitor: Visitor, api: Api
) -> None:
    inbox = api.create_inbox()
    first = send(api, inbox, to=[inbox["address"]], subject="Order 7", body_text="Thanks!")
    api.post(f"/v1/inboxes/{inbox['id']}/messages/{first['id']}/reply", json={"body_text": "ok"})
    page = visitor.page(f"/inboxes/{inbox['id']}/messages/{first['id']}")
    assert page.one("message-subject").text == "Order 7"
    assert page.one("body-text").text == "Thanks!"
    assert "Message-ID" in page.one("headers").text
    assert "Re: Order 7" in page.one("thread").text
    raw = visitor.get(page.one("raw-download").attrs["href"])
    assert raw.headers["Content-Type"] == "message/rfc822"
    assert "attachment" in raw.headers["Content-Disposition"]
    assert raw.content == api.get(f"/v1/inboxes/{inbox['id']}/messages/{first['id']}/raw").content


def test_the_inbox_page_lists_newest_first_and_searches_with_the_api_syntax(
    visitor: Visitor, api: Api
) -> None:
    inbox = api.create_inbox()
    for subject in ("alpha report", "beta invoice", "gamma report"):
        send(api, inbox, to=["someone@example.com"], subject=subject)
    page = visitor.page(f"/inboxes/{inbox['id']}")
    rows = page.by_testid("message-row")
    assert [row.text.split(" ")[2] for row in rows] == ["gamma", "beta", "alpha"]
    found = visitor.page(f"/inboxes/{inbox['id']}?q=subject:report")
    assert found.one("found-count").text == "2"
    assert all("report" in row.text for row in found.by_testid("message-row"))


def test_a_search_the_inbox_may_not_run_says_why(visitor: Visitor, api: Api) -> None:
    inbox = api.create_inbox(permissions=["send", "receive"])
    page = visitor.page(f"/inboxes/{inbox['id']}?q=hello")
    assert "search" in page.one("search-error").text


def test_actions_need_the_pages_csrf_token(visitor: Visitor, api: Api) -> None:
    inbox = api.create_inbox()
    refused = visitor.post(f"/inboxes/{inbox['id']}/status", {"status": "disabled"})
    assert refused.status_code == 403
    assert "CSRF" in Page(refused.text).one("error-message").text
    forged = visitor.post(
        f"/inboxes/{inbox['id']}/status", {"status": "disabled", "csrf_token": "guess"}
    )
    assert forged.status_code == 403
    assert api.get(f"/v1/inboxes/{inbox['id']}").json()["data"]["status"] == "active"


def test_disabling_an_inbox_from_the_console_stops_its_sends(visitor: Visitor, api: Api) -> None:
    inbox = api.create_inbox()
    path = f"/inboxes/{inbox['id']}"
    done = visitor.submit(path, f"{path}/status", {"status": "disabled"})
    assert done.status_code == 200 and done.url.endswith(path)
    page = Page(done.text)
    assert page.one("inbox-status").text == "disabled"
    assert "now disabled" in page.one("notes").text
    refused = api.post(
        f"/v1/inboxes/{inbox['id']}/messages", json={"to": "a@b.example", "body_text": "x"}
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "inbox_disabled"
    again = visitor.submit(path, f"{path}/test-message", {"to": "", "subject": "", "body_text": ""})
    assert "Could not send the test message" in Page(again.text).one("notes").text
    enabled = Page(visitor.submit(path, f"{path}/status", {"status": "active"}).text)
    assert enabled.one("inbox-status").text == "active"


def test_test_message_and_clear(visitor: Visitor, api: Api) -> None:
    inbox = api.create_inbox()
    path = f"/inboxes/{inbox['id']}"
    sent = Page(visitor.submit(path, f"{path}/test-message", {"subject": "From the console"}).text)
    assert "Sent msg_" in sent.one("notes").text
    assert len(sent.by_testid("message-row")) == 2  # the sent copy and the received one
    bad = visitor.submit(path, f"{path}/test-message", {"to": "not an address"})
    assert bad.status_code == 400 and "not an email address" in bad.text
    cleared = Page(visitor.submit(path, f"{path}/clear", {}).text)
    assert cleared.by_testid("message-row") == [] and cleared.one("message-count").text == "0"
    assert api.get(f"/v1/inboxes/{inbox['id']}/messages").json()["meta"]["total"] == 0


def test_new_mail_arrives_on_the_inbox_pages_stream(visitor: Visitor, api: Api) -> None:
    inbox = api.create_inbox()
    page = visitor.page(f"/inboxes/{inbox['id']}")
    stream_url = next(e for e in page.elements if e.attrs.get("id") == "message-rows").attrs[
        "data-stream"
    ]
    with visitor.get(stream_url, stream=True, timeout=20) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        lines = response.iter_lines(decode_unicode=True)
        assert next(lines).startswith("retry: ")
        sent = send(api, inbox, to=["someone@example.com"], subject="live one")
        event = _next_event(lines)
    assert event["type"] == "message.sent" and event["data"]["id"] == sent["id"]
    assert event["data"]["subject"] == "live one" and event["data"]["inbox_id"] == inbox["id"]


def _next_event(lines: Iterator[str]) -> dict[str, Any]:
    for line in lines:
        if line.startswith("data: "):
            return json.loads(line[len("data: ") :])  # type: ignore[no-any-return]
    raise AssertionError("the stream ended without an event")


def test_domains_webhooks_and_outbox_pages(visitor: Visitor, api: Api) -> None:
    inbox = api.create_inbox()
    domain = api.post("/v1/domains", json={"domain": f"{inbox['id'][4:]}.example"}).json()["data"]
    send(api, inbox, to=["outside@example.org"], subject="leaves the sandbox")
    domains = visitor.page("/domains")
    ours = [d for d in domains.by_testid("domain") if d.attrs["data-domain-id"] == domain["id"]]
    assert ours and f"_dmarc.{domain['domain']}" in ours[0].text
    outbox = visitor.page("/outbox")
    assert any("leaves the sandbox" in row.text for row in outbox.by_testid("captured-row"))
    hook = api.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["message.received"]}
    ).json()["data"]
    page = visitor.page("/webhooks")
    assert any(w.attrs["data-webhook-id"] == hook["id"] for w in page.by_testid("webhook"))


@pytest.fixture
def guarded(tmp_path: Any) -> Iterator[Sandbox]:
    """A sandbox whose console asks for an API key."""
    with Sandbox(db=str(tmp_path / "mail.db"), console_auth="key") as running:
        yield running


def test_a_key_protected_console_shows_only_the_signed_in_account(
    guarded: Sandbox, make_api: Callable[..., Api]
) -> None:
    mine, theirs = make_api(target=guarded), make_api(target=guarded)
    my_inbox, their_inbox = mine.create_inbox(), theirs.create_inbox()
    their_mail = send(theirs, their_inbox, to=[their_inbox["address"]], subject="private")
    person = Visitor(guarded.base_url)
    first = person.get("/")
    assert first.url.endswith("/sign-in?next=/")
    wrong = Page(person.sign_in("not-a-key").text)
    assert "must start with 'mb_'" in wrong.one("signin-error").text
    home = person.sign_in(mine.key)
    cookie = home.history[0].headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = Page(home.text)
    assert page.texts("inbox-address") == [my_inbox["address"]]
    for path in [
        f"/inboxes/{their_inbox['id']}",
        f"/inboxes/{their_inbox['id']}/messages/{their_mail['id']}",
        f"/inboxes/{their_inbox['id']}/messages/{their_mail['id']}/body",
        f"/inboxes/{their_inbox['id']}/messages/{their_mail['id']}.eml",
        f"/inboxes/{their_inbox['id']}/stream",
    ]:
        assert person.get(path).status_code == 404, path
    outbox = person.page("/outbox")
    assert outbox.by_testid("captured-row") == []
    person.submit("/", "/sign-out", {})
    assert person.get("/").url.endswith("/sign-in?next=/")
    person.close()


def test_strict_keys_always_protect_the_console(tmp_path: Any) -> None:
    key = fresh_key()
    with Sandbox(db=":memory:", api_keys=[key]) as strict:
        person = Visitor(strict.base_url)
        assert person.get("/").url.endswith("/sign-in?next=/")
        refused = Page(person.sign_in(fresh_key()).text)
        assert "unknown API key" in refused.one("signin-error").text
        assert "/sign-in" not in person.sign_in(key).url
        person.close()


def test_a_thread_link_shows_that_threads_messages_only(visitor: Visitor, api: Api) -> None:
    inbox = api.create_inbox()
    first = send(api, inbox, to=["someone@example.com"], subject="Shipping question")
    api.post(f"/v1/inboxes/{inbox['id']}/messages/{first['id']}/reply", json={"body_text": "more"})
    send(api, inbox, to=["someone@example.com"], subject="Unrelated")
    page = visitor.page(f"/inboxes/{inbox['id']}")
    rows = page.by_testid("thread-row")
    shipping = [row.text for row in rows].index(
        next(text for text in (row.text for row in rows) if text.startswith("Shipping question"))
    )
    link = page.by_testid("thread-link")[shipping].attrs["href"]
    thread = visitor.page(link)
    rows = [row.text for row in thread.by_testid("message-row")]
    assert len(rows) == 2 and "Re: Shipping question" in rows[0] and "Unrelated" not in str(rows)
    assert visitor.get(f"/inboxes/{inbox['id']}?thread=thr_nope").status_code == 404


def test_the_thread_list_pages_beside_the_messages(visitor: Visitor, api: Api) -> None:
    inbox = api.create_inbox()
    for number in range(23):  # 23 threads: a first page of 20, then 3
        injected = api.post(
            f"/sandbox/v1/inboxes/{inbox['id']}/messages",
            json={"subject": f"topic {number}", "body_text": "hi"},
        )
        assert injected.status_code == 201, injected.text
    first = visitor.page(f"/inboxes/{inbox['id']}")
    subjects = [row.text.split(" · ")[0] for row in first.by_testid("thread-row")]
    assert len(subjects) == 20 and subjects[0].startswith("topic 22")
    assert first.one("thread-page").text == "Page 1 of 2"
    assert not first.by_testid("newer-threads")
    second = visitor.page(first.one("older-threads").attrs["href"])
    subjects = [row.text.split(" · ")[0] for row in second.by_testid("thread-row")]
    assert [subject.split(" 1 message")[0] for subject in subjects] == [
        "topic 2",
        "topic 1",
        "topic 0",
    ]
    assert second.one("thread-page").text == "Page 2 of 2" and not second.by_testid("older-threads")
    # Opening a thread from the second page keeps the list on that page.
    opened = visitor.page(second.by_testid("thread-link")[0].attrs["href"])
    assert opened.one("thread-page").text == "Page 2 of 2"
    assert len(opened.by_testid("message-row")) == 1
    assert visitor.page(second.one("newer-threads").attrs["href"]).one("thread-page").text == (
        "Page 1 of 2"
    )
    bad = visitor.get(f"/inboxes/{inbox['id']}?threads_page=0")
    assert bad.status_code == 400
    assert "threads_page must be a whole number" in Page(bad.text).one("error-message").text


def test_images_the_mail_carries_show_without_any_fetch(
    visitor: Visitor, api: Api, sandbox: Sandbox
) -> None:
    inbox = api.create_inbox()
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "shop@example.com", inbox["address"], "Logo"
    mail.set_content("plain")
    mail.add_alternative('<p><img src="cid:logo@shop" alt="logo"></p>', subtype="html")
    mail.get_payload()[1].add_related(
        b"\x89PNG fake", maintype="image", subtype="png", cid="<logo@shop>"
    )
    mail_by_smtp(sandbox, inbox, mail.as_bytes())
    message = api.get(f"/v1/inboxes/{inbox['id']}/messages").json()["data"][0]
    body = visitor.get(f"/inboxes/{inbox['id']}/messages/{message['id']}/body")
    expected = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
    assert f'src="{expected}"' in body.text


def test_simulated_engagement_shows_on_the_timeline_and_the_card(
    visitor: Visitor, api: Api
) -> None:
    inbox = api.create_inbox()
    sent = send(api, inbox, to=["reader@example.com"], subject="news")
    path = f"/inboxes/{inbox['id']}/messages/{sent['id']}"
    assert visitor.page(path).one("no-engagement")
    visitor.submit(path, f"{path}/simulate", {"event": "opened"})
    page = Page(visitor.submit(path, f"{path}/simulate", {"event": "bounced"}).text)
    assert [e.text.split(" ")[-1] for e in page.by_testid("engagement-event")][-2:] == [
        "opened",
        "bounced",
    ]
    assert "bounced" in page.one("message-status").text
    card = visitor.page(f"/?account={inbox['account_id']}")
    assert card.texts("bounce-rate") == ["100.0%"]
    wrong = visitor.submit(path, f"{path}/simulate", {"event": "exploded"})
    assert wrong.status_code == 400 and "event must be one of" in wrong.text

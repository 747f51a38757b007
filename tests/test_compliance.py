"""Usage and compliance over real HTTP and through the published SDK."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest
from mailbot import MailBot
from mailbot.exceptions import ComplianceError, NotFoundError

from mailbot_sandbox import Sandbox
from tests.helpers import Api, fresh_key, send, smtp_message


@pytest.fixture(scope="module")
def strict_sandbox() -> Iterator[Sandbox]:
    with Sandbox(domain_policy="strict") as running:
        yield running


@pytest.fixture
def strict_api(make_api, strict_sandbox: Sandbox) -> Api:
    return make_api(target=strict_sandbox)


# -- usage ---------------------------------------------------------------------------------------
def test_usage_counts_todays_sends_against_each_limit(api: Api) -> None:
    busy = api.create_inbox(username="busy", daily_send_limit=5)
    idle = api.create_inbox(username="idle", daily_send_limit=7)
    for _ in range(3):
        send(api, busy, to=[idle["address"]])
    usage = api.get("/v1/usage").json()["data"]
    per_inbox = {row["inbox_id"]: row for row in usage["inboxes"]}
    assert per_inbox[busy["id"]] == {
        "inbox_id": busy["id"],
        "address": busy["address"],
        "sends_today": 3,
        "daily_send_limit": 5,
        "remaining": 2,
    }
    assert per_inbox[idle["id"]]["sends_today"] == 0
    assert per_inbox[idle["id"]]["remaining"] == 7
    assert usage["totals"] == {
        "sends_today": 3,
        "inboxes": 2,
        "messages": 6,  # three sent copies and three received ones
        "daily_send_limit": 12,
        "remaining": 9,
    }


def test_usage_follows_the_account_clock(api: Api) -> None:
    inbox = api.create_inbox(username="clocked")
    send(api, inbox, to=["someone@example.com"])
    before = api.get("/v1/usage").json()["data"]
    assert before["totals"]["sends_today"] == 1
    assert before["resets_at"].endswith("T00:00:00.000Z")
    api.post("/sandbox/v1/clock", json={"advance_seconds": 86_400})
    after = api.get("/v1/usage").json()["data"]
    assert after["date"] > before["date"]
    assert after["totals"]["sends_today"] == 0
    assert after["totals"]["messages"] == 1  # the mail stays; only the day's count resets


def test_usage_of_a_new_account_is_empty(api: Api) -> None:
    usage = api.get("/v1/usage").json()["data"]
    assert usage["inboxes"] == []
    assert usage["totals"]["inboxes"] == 0 and usage["totals"]["sends_today"] == 0


def test_usage_is_per_account(make_api) -> None:
    mine, theirs = make_api(), make_api()
    mine.create_inbox(username="mine")
    assert theirs.get("/v1/usage").json()["data"]["inboxes"] == []


# -- compliance ----------------------------------------------------------------------------------
def test_shared_domain_is_always_ready(strict_api: Api) -> None:
    inbox = strict_api.create_inbox(username="shared")
    readiness = strict_api.get(f"/v1/compliance/readiness/{inbox['id']}").json()["data"]
    assert (readiness["spf"], readiness["dkim"], readiness["dmarc"]) == ("pass", "pass", "pass")
    assert readiness["readiness_score"] == 100
    assert readiness["blocked_reasons"] == [] and readiness["ready"] is True
    assert readiness["address"] == inbox["address"]


def test_check_reads_the_published_records(strict_api: Api) -> None:
    domain = strict_api.post("/v1/domains", json={"domain": "check.example"}).json()["data"]
    nothing = strict_api.get("/v1/compliance/check", params={"domain": "check.example"})
    assert nothing.status_code == 200
    report = nothing.json()["data"]
    assert (report["spf"], report["dkim"], report["dmarc"]) == ("missing",) * 3
    assert report["readiness_score"] == 0
    assert report["blocked_reasons"] == [
        "domain_not_verified",
        "spf_missing",
        "dkim_missing",
        "dmarc_missing",
    ]

    records = [dict(r) for r in domain["dns_records"]]
    for record in records:
        if record["purpose"] == "dkim":
            record["value"] = "v=DKIM1; k=rsa; p=QUJDRA=="  # another key than the domain's
    strict_api.post("/sandbox/v1/dns", json={"records": records})
    report = strict_api.get("/v1/compliance/check?domain=check.example").json()["data"]
    assert (report["spf"], report["dkim"], report["dmarc"]) == ("pass", "fail", "pass")
    assert report["readiness_score"] == 50
    assert report["blocked_reasons"] == ["domain_not_verified", "dkim_fail"]

    strict_api.post("/sandbox/v1/dns", json={"records": domain["dns_records"]})
    strict_api.post(f"/v1/domains/{domain['id']}/verify")
    report = strict_api.get("/v1/compliance/check?domain=CHECK.example").json()["data"]
    assert report["dkim"] == "pass"
    assert report["readiness_score"] == 100 and report["blocked_reasons"] == []


def test_readiness_names_what_blocks_an_inbox(strict_api: Api) -> None:
    domain = strict_api.post("/v1/domains", json={"domain": "ready.example"}).json()["data"]
    strict_api.post("/sandbox/v1/dns", json={"records": domain["dns_records"]})
    strict_api.post(f"/v1/domains/{domain['id']}/verify")
    inbox = strict_api.create_inbox(username="ops", domain="ready.example")
    ready = strict_api.get(f"/v1/compliance/readiness/{inbox['id']}").json()["data"]
    assert ready["ready"] is True and ready["domain"] == "ready.example"
    strict_api.patch(f"/v1/inboxes/{inbox['id']}", json={"status": "disabled"})
    blocked = strict_api.get(f"/v1/compliance/readiness/{inbox['id']}").json()["data"]
    assert blocked["ready"] is False
    assert blocked["blocked_reasons"] == ["inbox_disabled"]


def test_strict_policy_blocks_sends_once_the_domain_fails_verification(
    strict_api: Api, strict_sandbox: Sandbox
) -> None:
    domain = strict_api.post("/v1/domains", json={"domain": "lapsed.example"}).json()["data"]
    strict_api.post("/sandbox/v1/dns", json={"records": domain["dns_records"]})
    strict_api.post(f"/v1/domains/{domain['id']}/verify")
    inbox = strict_api.create_inbox(username="ops", domain="lapsed.example")
    send(strict_api, inbox, to=["someone@example.com"])
    strict_api.delete("/sandbox/v1/dns")
    strict_api.post(f"/v1/domains/{domain['id']}/verify")  # fails now: records gone
    response = strict_api.post(
        f"/v1/inboxes/{inbox['id']}/messages",
        json={"to": ["someone@example.com"], "subject": "Hi", "body_text": "hi"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "compliance_blocked"
    assert response.json()["error"]["details"] == {"domain": "lapsed.example"}
    client = MailBot(api_key=strict_api.key, base_url=strict_sandbox.api_url)
    try:
        with pytest.raises(ComplianceError):
            client.messages.send(inbox["id"], to=["a@example.com"], subject="x", body_text="x")
    finally:
        client.close()
    raw = smtp_message(inbox["address"], ["someone@example.com"])
    with smtplib.SMTP(strict_sandbox.smtp_host, strict_sandbox.smtp_port) as smtp:
        smtp.login(inbox["address"], strict_api.key)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail(inbox["address"], ["someone@example.com"], raw)
    assert refused.value.smtp_code == 550
    usage = strict_api.get("/v1/usage").json()["data"]
    assert usage["totals"]["sends_today"] == 1  # the refused sends were not counted


def test_auto_policy_domains_are_ready(api: Api) -> None:
    inbox = api.create_inbox(username="auto", domain="auto-ready.example")
    readiness = api.get(f"/v1/compliance/readiness/{inbox['id']}").json()["data"]
    assert readiness["readiness_score"] == 100 and readiness["ready"] is True


@pytest.mark.parametrize("query", ["", "?domain=", "?domain=no_dots", "?domain=a.example&x=1"])
def test_check_needs_a_domain(api: Api, query: str) -> None:
    assert api.get(f"/v1/compliance/check{query}").status_code == 400


def test_readiness_of_another_accounts_inbox_is_404(make_api) -> None:
    owner, stranger = make_api(), make_api()
    inbox = owner.create_inbox(username="private")
    assert stranger.get(f"/v1/compliance/readiness/{inbox['id']}").status_code == 404


# -- the published SDK ---------------------------------------------------------------------------
def test_sdk_usage_and_compliance(sandbox: Sandbox) -> None:
    client = MailBot(api_key=fresh_key(), base_url=sandbox.api_url)
    try:
        inbox = client.inboxes.create(username="sdk", daily_send_limit=10)
        client.messages.send(inbox["id"], to=["x@example.com"], subject="Hi", body_text="hi")
        usage = client.usage.get()
        assert usage["totals"]["sends_today"] == 1
        assert usage["inboxes"][0]["remaining"] == 9
        assert client.compliance.check("mailbot.id")["readiness_score"] == 100
        assert client.compliance.readiness(inbox["id"])["ready"] is True
        with pytest.raises(NotFoundError):
            client.compliance.readiness("inb_missing")
    finally:
        client.close()

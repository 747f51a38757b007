"""Operations endpoints: /metrics and /ready."""

from __future__ import annotations

import re
import smtplib
from concurrent.futures import ThreadPoolExecutor

import requests

from mailbot_sandbox import Sandbox
from tests.helpers import (
    Api,
    mail_by_smtp,
    metric,
    send,
    smtp_message,
    wait_until_parked,
)


def _metrics(sandbox: Sandbox) -> tuple[str, dict[str, float]]:
    response = requests.get(f"{sandbox.base_url}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in response.text.splitlines():
        if not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return response.text, samples


def test_metrics_count_mail_sessions_and_waits(sandbox: Sandbox, api: Api) -> None:
    sender, receiver = api.create_inbox(), api.create_inbox()
    _, before = _metrics(sandbox)
    send(api, sender, to=[receiver["address"]])
    mail_by_smtp(sandbox, receiver, smtp_message("x@example.com", [receiver["address"]]))
    api.get(f"/v1/inboxes/{receiver['id']}/messages/wait?timeout_ms=0")

    text, after = _metrics(sandbox)

    assert after["mailbot_messages_sent_total"] == before["mailbot_messages_sent_total"] + 1
    received = "mailbot_messages_received_total"
    assert after[received] == before[received] + 2
    for name in ("mailbot_smtp_sessions_total", "mailbot_wait_calls_total"):
        assert after[name] >= before[name] + 1
    assert after["mailbot_stored_messages"] >= 3
    assert after["mailbot_waits_parked"] == 0
    assert "# TYPE mailbot_webhook_deliveries_total counter" in text
    assert "inbox_id" not in text  # one series per inbox would grow without bound
    sample = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"\n]*"(,[a-z_]+="[^"\n]*")*\})? [0-9.e+]+$')
    for line in text.splitlines():
        assert line.startswith(("# HELP ", "# TYPE ")) or sample.match(line), line


def test_two_sandboxes_in_one_process_count_apart(sandbox: Sandbox, api: Api) -> None:
    _, before = _metrics(sandbox)
    with Sandbox() as other:
        with smtplib.SMTP(other.smtp_host, other.smtp_port, timeout=10) as client:
            client.noop()
        _, others = _metrics(other)
    _, after = _metrics(sandbox)
    assert others["mailbot_smtp_sessions_total"] == 1
    assert after["mailbot_smtp_sessions_total"] == before["mailbot_smtp_sessions_total"]


def test_the_parked_waits_gauge_counts_waits_until_mail_wakes_them(
    sandbox: Sandbox, api: Api
) -> None:
    sender, receiver = api.create_inbox(), api.create_inbox()
    url = f"/v1/inboxes/{receiver['id']}/messages/wait?timeout_ms=20000"
    with ThreadPoolExecutor(max_workers=2) as pool:
        waits = [pool.submit(api.get, url) for _ in range(2)]
        wait_until_parked(sandbox.base_url, 2)
        send(api, sender, to=[receiver["address"]], subject="wake up")
        assert [wait.result(timeout=10).status_code for wait in waits] == [200, 200]
    assert metric(sandbox.base_url, "mailbot_waits_parked") == 0


def test_ready_reports_its_checks(sandbox: Sandbox) -> None:
    response = requests.get(f"{sandbox.base_url}/ready", timeout=5)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "smtp": "ok", "sandbox": "ok"},
    }


def test_not_ready_is_503_in_the_error_shape() -> None:
    with Sandbox() as box:
        assert box.services is not None
        box.services.store.close()  # as if the database went away
        response = requests.get(f"{box.base_url}/ready", timeout=5)
        assert requests.get(f"{box.base_url}/health", timeout=5).status_code == 200
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "not_ready" and "database" in error["message"]
    assert error["details"]["checks"]["smtp"] == "ok"


def test_metrics_need_a_key_once_keys_are_configured(sandbox: Sandbox) -> None:
    assert requests.get(f"{sandbox.base_url}/metrics", timeout=5).status_code == 200  # open
    with Sandbox(api_keys=("mb_ops_key",)) as strict:
        url = f"{strict.base_url}/metrics"
        anonymous = requests.get(url, timeout=5)
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "unauthorized"
        wrong = requests.get(url, headers={"Authorization": "Bearer mb_guess"}, timeout=5)
        assert wrong.status_code == 401
        scrape = requests.get(url, headers={"Authorization": "Bearer mb_ops_key"}, timeout=5)
        assert scrape.status_code == 200
        assert "mailbot_smtp_sessions_total" in scrape.text
        assert "mb_ops_key" not in scrape.text

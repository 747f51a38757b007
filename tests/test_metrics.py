"""Operations endpoints: /metrics and /ready."""

from __future__ import annotations

import re

import pytest
import requests

from mailbot_sandbox import Sandbox, metrics
from tests.helpers import Api, mail_by_smtp, send, smtp_message


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

    assert after[f'mailbot_messages_sent_total{{inbox_id="{sender["id"]}"}}'] == 1
    assert after[f'mailbot_messages_received_total{{inbox_id="{receiver["id"]}"}}'] == 2
    for name in ("mailbot_smtp_sessions_total", "mailbot_wait_calls_total"):
        assert after[name] >= before[name] + 1
    assert after["mailbot_stored_messages"] >= 3
    assert "# TYPE mailbot_webhook_deliveries_total counter" in text
    sample = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"\n]*"(,[a-z_]+="[^"\n]*")*\})? [0-9.e+]+$')
    for line in text.splitlines():
        assert line.startswith(("# HELP ", "# TYPE ")) or sample.match(line), line


def test_metrics_format_escapes_and_caps_series(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = metrics.Registry()
    registry.count("webhook_deliveries", outcome='odd "quoted"\\\nvalue')
    assert 'outcome="odd \\"quoted\\"\\\\\\nvalue"} 1' in registry.render()
    monkeypatch.setattr(metrics, "MAX_SERIES", 2)
    registry.count_each("messages_received", ["a", "b", "c", "d", "a"])
    assert registry.value("messages_received", inbox_id="a") == 2
    assert registry.value("messages_received", inbox_id=metrics.OVERFLOW) == 2
    with pytest.raises(KeyError):
        registry.count("messages_received")  # the label is missing
    with pytest.raises(KeyError):
        registry.count("no_such_counter")


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

"""Retention: the count and age rules, the pruning thread, and their settings."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mailbot_sandbox import Sandbox
from mailbot_sandbox.config import load_config
from mailbot_sandbox.errors import ConfigError
from mailbot_sandbox.runtime.retention import Retention
from tests.helpers import Api, assert_consistent, mail_by_smtp, send, smtp_message, subjects

ATTACHMENT = {"filename": "a.bin", "content": base64.b64encode(b"\x00attached\xff").decode()}


def _retention(sandbox: Sandbox, **rules: int) -> Retention:
    assert sandbox.services is not None
    return Retention(
        sandbox.services.store, sandbox.services.clock, replace(sandbox.config, **rules)
    )


def test_count_rule_keeps_the_newest_per_inbox_and_takes_everything_along(
    own_sandbox: Sandbox, make_api: Callable[..., Api]
) -> None:
    api = make_api(target=own_sandbox)
    sender, receiver = api.create_inbox(), api.create_inbox()
    for n in range(4):
        send(api, sender, to=[receiver["address"]], subject=f"note {n}", attachments=[ATTACHMENT])
    send(api, sender, to=["someone@example.com"], subject="external")  # captured
    mail_by_smtp(
        own_sandbox, receiver, smtp_message("x@example.com", [receiver["address"]], "smtp")
    )

    result = _retention(own_sandbox, retention_max_messages=2).prune()

    assert (result.by_count, result.by_age) == (3 + 3, 0)
    assert subjects(api, sender) == ["external", "note 3"]
    assert subjects(api, receiver) == ["smtp", "note 3"]
    search = api.post(f"/v1/inboxes/{receiver['id']}/messages/search", json={"query": "note"})
    assert [m["subject"] for m in search.json()["data"]] == ["note 3"]
    assert api.get("/sandbox/v1/outbox").json()["meta"]["total"] == 1
    assert_consistent(own_sandbox)
    kept = api.get(f"/v1/inboxes/{receiver['id']}/messages").json()["data"][1]
    assert kept["subject"] == "note 3" and kept["attachments"], "its attachment stays"


def test_a_pruned_copy_leaves_the_bytes_other_copies_share(
    own_sandbox: Sandbox, make_api: Callable[..., Api]
) -> None:
    api = make_api(target=own_sandbox)
    sender, receiver = api.create_inbox(), api.create_inbox()
    first = send(api, sender, to=[receiver["address"]], subject="shared")
    for n in range(2):
        mail_by_smtp(
            own_sandbox, receiver, smtp_message("x@example.com", [receiver["address"]], f"{n}")
        )

    _retention(own_sandbox, retention_max_messages=2).prune()

    assert "shared" not in subjects(api, receiver)
    raw = api.get(f"/v1/inboxes/{sender['id']}/messages/{first['id']}/raw")
    assert raw.status_code == 200 and b"Subject: shared" in raw.content
    assert_consistent(own_sandbox)


def test_age_rule_follows_the_account_clock(
    own_sandbox: Sandbox, make_api: Callable[..., Api]
) -> None:
    api, other = make_api(target=own_sandbox), make_api(target=own_sandbox)
    inbox, untouched = api.create_inbox(), other.create_inbox()
    send(api, inbox, to=[inbox["address"]], subject="old")  # one thread: sent copy + received
    send(other, untouched, to=["x@example.com"], subject="other account")
    api.post("/sandbox/v1/clock", json={"advance_seconds": 3 * 86400})
    send(api, inbox, to=["x@example.com"], subject="new")

    result = _retention(own_sandbox, retention_days=2).prune()

    assert (result.by_age, result.by_count, result.threads) == (2, 0, 1)
    assert subjects(api, inbox) == ["new"]
    assert subjects(other, untouched) == ["other account"]
    assert api.get(f"/v1/inboxes/{inbox['id']}/threads").json()["meta"]["total"] == 1
    assert_consistent(own_sandbox)


def test_age_rule_prunes_what_the_catch_all_captured(
    own_sandbox: Sandbox, make_api: Callable[..., Api]
) -> None:
    import smtplib

    local = make_api(own_sandbox.config.catch_all_key, target=own_sandbox)
    with smtplib.SMTP(own_sandbox.smtp_host, own_sandbox.smtp_port, timeout=10) as client:
        client.sendmail("a@shop.example", ["old@example.com"], b"Subject: old\r\n\r\nx\r\n")
        local.post("/sandbox/v1/clock", json={"advance_seconds": 3 * 86400})
        client.sendmail("a@shop.example", ["new@example.com"], b"Subject: new\r\n\r\nx\r\n")

    _retention(own_sandbox, retention_days=2).prune()

    listed = local.get("/sandbox/v1/outbox").json()["data"]
    assert [entry["subject"] for entry in listed] == ["new"]
    assert_consistent(own_sandbox)


def test_off_by_default_and_the_thread_prunes_on_its_own(
    tmp_path: Path, make_api: Callable[..., Api]
) -> None:
    config = load_config({"db": ":memory:", "port": 0, "smtp_port": 0}, environ={})
    assert (config.retention_days, config.retention_max_messages) == (0, 0)
    with Sandbox(config=replace(config, retention_max_messages=1, retention_interval=1)) as box:
        api = make_api(target=box)
        inbox = api.create_inbox()
        for n in range(3):
            mail_by_smtp(box, inbox, smtp_message("x@example.com", [inbox["address"]], f"m{n}"))
        deadline = time.monotonic() + 10
        while subjects(api, inbox) != ["m2"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert subjects(api, inbox) == ["m2"]


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("MAILBOT_RETENTION_DAYS", "week", "whole number"),
        ("MAILBOT_RETENTION_MAX_MESSAGES", "-1", "between 0"),
        ("MAILBOT_RETENTION_INTERVAL", "0", "between 1"),
    ],
)
def test_bad_retention_settings_are_named(variable: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ={variable: value})
    assert words in str(caught.value)
    assert variable in str(caught.value) or value in str(caught.value)


def test_retention_from_the_environment() -> None:
    config = load_config(
        environ={"MAILBOT_RETENTION_DAYS": "7", "MAILBOT_RETENTION_MAX_MESSAGES": "500"}
    )
    assert (config.retention_days, config.retention_max_messages) == (7, 500)
    with pytest.raises(ConfigError, match="retention_interval"):
        load_config({"retention_interval": 0}, environ={})

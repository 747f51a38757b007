"""Operations: retention, /metrics, /ready, export/import, the data commands, logging."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from mailbot_sandbox import Sandbox, metrics
from mailbot_sandbox.cli import main
from mailbot_sandbox.config import load_config
from mailbot_sandbox.errors import ConfigError
from mailbot_sandbox.runtime.retention import Retention
from mailbot_sandbox.runtime.transfer import split_mbox
from tests.conftest import Api, send, smtp_message

ATTACHMENT = {"filename": "a.bin", "content": base64.b64encode(b"\x00attached\xff").decode()}


def _mail(sandbox: Sandbox, inbox: dict[str, Any], raw: bytes) -> None:
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as smtp:
        smtp.sendmail("sender@example.com", [inbox["address"]], raw)


def _subjects(api: Api, inbox: dict[str, Any]) -> list[str]:
    listed = api.get(f"/v1/inboxes/{inbox['id']}/messages?limit=100").json()["data"]
    return [message["subject"] for message in listed]


def _assert_consistent(sandbox: Sandbox) -> None:
    """Nothing dangles: FTS rows, attachments, threads and blobs all match the messages."""
    assert sandbox.services is not None
    sandbox.services.search_index.catch_up()  # the index follows the mail a moment later
    store = sandbox.services.store
    assert store.scalar("SELECT count(*) FROM messages_fts") == store.scalar(
        "SELECT count(*) FROM messages"
    )
    assert not store.rows(
        "SELECT rowid FROM messages_fts WHERE rowid NOT IN (SELECT seq FROM messages)"
    )
    assert not store.rows(
        "SELECT id FROM attachments WHERE message_seq NOT IN (SELECT seq FROM messages)"
    )
    assert not store.rows(
        "SELECT id FROM threads t WHERE message_count != "
        "(SELECT count(*) FROM messages m WHERE m.thread_id = t.id) OR message_count = 0"
    )
    assert not store.rows(
        "SELECT id FROM blobs WHERE id NOT IN (SELECT raw_id FROM messages) "
        "AND id NOT IN (SELECT raw_id FROM captured)"
    )


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox of this test alone, on a database file the data commands can open too."""
    with Sandbox(db=str(tmp_path / "mail.db")) as running:
        yield running


@pytest.fixture(scope="module")
def shared_file_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Like ``own_sandbox``, shared by tests that only read or make accounts of their own."""
    with Sandbox(db=str(tmp_path_factory.mktemp("shared") / "mail.db")) as running:
        yield running


def _retention(sandbox: Sandbox, **rules: int) -> Retention:
    assert sandbox.services is not None
    return Retention(
        sandbox.services.store, sandbox.services.clock, replace(sandbox.config, **rules)
    )


# -- retention -------------------------------------------------------------------------------
def test_count_rule_keeps_the_newest_per_inbox_and_takes_everything_along(
    own_sandbox: Sandbox, make_api: Callable[..., Api]
) -> None:
    api = make_api(target=own_sandbox)
    sender, receiver = api.create_inbox(), api.create_inbox()
    for n in range(4):
        send(api, sender, to=[receiver["address"]], subject=f"note {n}", attachments=[ATTACHMENT])
    send(api, sender, to=["someone@example.com"], subject="external")  # captured
    _mail(own_sandbox, receiver, smtp_message("x@example.com", [receiver["address"]], "smtp"))

    result = _retention(own_sandbox, retention_max_messages=2).prune()

    assert (result.by_count, result.by_age) == (3 + 3, 0)
    assert _subjects(api, sender) == ["external", "note 3"]
    assert _subjects(api, receiver) == ["smtp", "note 3"]
    search = api.post(f"/v1/inboxes/{receiver['id']}/messages/search", json={"query": "note"})
    assert [m["subject"] for m in search.json()["data"]] == ["note 3"]
    assert api.get("/sandbox/v1/outbox").json()["meta"]["total"] == 1
    _assert_consistent(own_sandbox)
    kept = api.get(f"/v1/inboxes/{receiver['id']}/messages").json()["data"][1]
    assert kept["subject"] == "note 3" and kept["attachments"], "its attachment stays"


def test_a_pruned_copy_leaves_the_bytes_other_copies_share(
    own_sandbox: Sandbox, make_api: Callable[..., Api]
) -> None:
    api = make_api(target=own_sandbox)
    sender, receiver = api.create_inbox(), api.create_inbox()
    first = send(api, sender, to=[receiver["address"]], subject="shared")
    for n in range(2):
        _mail(own_sandbox, receiver, smtp_message("x@example.com", [receiver["address"]], f"{n}"))

    _retention(own_sandbox, retention_max_messages=2).prune()

    assert "shared" not in _subjects(api, receiver)
    raw = api.get(f"/v1/inboxes/{sender['id']}/messages/{first['id']}/raw")
    assert raw.status_code == 200 and b"Subject: shared" in raw.content
    _assert_consistent(own_sandbox)


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
    assert _subjects(api, inbox) == ["new"]
    assert _subjects(other, untouched) == ["other account"]
    assert api.get(f"/v1/inboxes/{inbox['id']}/threads").json()["meta"]["total"] == 1
    _assert_consistent(own_sandbox)


def test_off_by_default_and_the_thread_prunes_on_its_own(
    tmp_path: Path, make_api: Callable[..., Api]
) -> None:
    config = load_config({"db": ":memory:", "port": 0, "smtp_port": 0}, environ={})
    assert (config.retention_days, config.retention_max_messages) == (0, 0)
    with Sandbox(config=replace(config, retention_max_messages=1, retention_interval=1)) as box:
        api = make_api(target=box)
        inbox = api.create_inbox()
        for n in range(3):
            _mail(box, inbox, smtp_message("x@example.com", [inbox["address"]], f"m{n}"))
        deadline = time.monotonic() + 10
        while _subjects(api, inbox) != ["m2"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _subjects(api, inbox) == ["m2"]


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("MAILBOT_RETENTION_DAYS", "week", "whole number"),
        ("MAILBOT_RETENTION_MAX_MESSAGES", "-1", "between 0"),
        ("MAILBOT_RETENTION_INTERVAL", "0", "between 1"),
        ("MAILBOT_LOG_FORMAT", "xml", "text or json"),
    ],
)
def test_bad_retention_and_log_settings_are_named(variable: str, value: str, words: str) -> None:
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


# -- /metrics and /ready ---------------------------------------------------------------------
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
    _mail(sandbox, receiver, smtp_message("x@example.com", [receiver["address"]]))
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


# -- export and import -----------------------------------------------------------------------
TRICKY = [
    b"From: a@example.com\r\nSubject: crlf\r\n\r\nFrom the start\r\n>From quoted\r\n>>From x\r\n",
    b"From: b@example.com\nSubject: lf, no final newline\n\nFrom here\n\n>From there",
    b"From: c@example.com\nSubject: latin-1\nContent-Type: text/plain; charset=latin-1\n"
    b"Content-Transfer-Encoding: 8bit\n\ncaf\xe9\nFrom \n",
]


def _cli(*args: str) -> tuple[int, str, str]:
    process = subprocess.run(
        [sys.executable, "-m", "mailbot_sandbox", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")},
    )
    return process.returncode, process.stdout, process.stderr


def _raws(api: Api, inbox: dict[str, Any]) -> list[bytes]:
    listed = api.get(f"/v1/inboxes/{inbox['id']}/messages?limit=100").json()["data"]
    return [
        api.get(f"/v1/inboxes/{inbox['id']}/messages/{m['id']}/raw").content
        for m in reversed(listed)
    ]


def test_export_import_round_trip_is_byte_exact(
    own_sandbox: Sandbox, make_api: Callable[..., Api], tmp_path: Path
) -> None:
    api = make_api(target=own_sandbox)
    source, mbox_copy, eml_copy = api.create_inbox(), api.create_inbox(), api.create_inbox()
    for raw in TRICKY:
        body = {"raw_base64": base64.b64encode(raw).decode()}
        assert api.post(f"/sandbox/v1/inboxes/{source['id']}/messages", json=body).ok
    _mail(own_sandbox, source, smtp_message("x@example.com", [source["address"]], "by smtp"))
    originals = _raws(api, source)
    db = own_sandbox.config.db

    mbox, folder = tmp_path / "out" / "all.mbox", tmp_path / "eml"
    for dest in (mbox, folder):
        code, out, err = _cli(
            "export", "--db", db, "--key", api.key, "--inbox", source["id"], str(dest)
        )
        assert (code, err) == (0, ""), err
        assert out.startswith("exported 4 messages of 1 inboxes")
    assert split_mbox(mbox.read_bytes()) == originals
    files = sorted(folder.rglob("*.eml"))
    assert [path.read_bytes() for path in files] == originals

    for dest, copy in ((mbox, mbox_copy), (folder, eml_copy)):
        code, out, _ = _cli(
            "import", "--db", db, "--key", api.key, "--inbox", copy["address"], str(dest)
        )
        assert code == 0 and out.startswith("imported 4 messages")
        assert _raws(api, copy) == originals

    again = tmp_path / "again.mbox"
    assert (
        _cli("export", "--db", db, "--key", api.key, "--inbox", mbox_copy["id"], str(again))[0] == 0
    )
    assert split_mbox(again.read_bytes()) == originals
    assert _subjects(api, mbox_copy)[0] == "by smtp"
    _assert_consistent(own_sandbox)


def test_export_of_a_whole_account_has_a_folder_per_inbox(
    shared_file_sandbox: Sandbox, make_api: Callable[..., Api], tmp_path: Path
) -> None:
    api = make_api(target=shared_file_sandbox)
    a, b = api.create_inbox(), api.create_inbox()
    send(api, a, to=[b["address"]])
    db = shared_file_sandbox.config.db
    assert main(["export", "--db", db, "--key", api.key, str(tmp_path / "x")]) == 0
    folders = sorted(path.name for path in (tmp_path / "x").iterdir())
    assert folders == sorted([a["address"], b["address"]])


def test_reset_one_account_or_all(own_sandbox: Sandbox, make_api: Callable[..., Api]) -> None:
    api, other = make_api(target=own_sandbox), make_api(target=own_sandbox)
    inbox = api.create_inbox()
    send(api, inbox, to=[inbox["address"]])
    other.create_inbox()
    db = own_sandbox.config.db

    code, out, _ = _cli("reset", "--db", db, "--key", api.key)
    assert code == 0 and out.strip() == "erased 2 messages and 1 inboxes of 1 accounts"
    assert api.get("/v1/inboxes").json()["data"] == []
    assert len(other.get("/v1/inboxes").json()["data"]) == 1

    assert _cli("reset", "--db", db, "--all")[0] == 0
    assert other.get("/v1/inboxes").json()["data"] == []
    assert api.create_inbox()  # the sandbox goes on working after a reset under it
    _assert_consistent(own_sandbox)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["reset"], "one of the arguments --key --all is required"),
        (["reset", "--key", "mb_nobody"], "no account"),
        (["reset", "--key", "secret"], "not of the form mb_"),
        (["export", "--key", "{key}", "{tmp}/existing.mbox"], "already exists"),
        (["export", "--key", "{key}", "--inbox", "inb_nope", "{tmp}/o"], "inbox 'inb_nope' not"),
        (["export", "--key", "{key}", "--format", "zip", "{tmp}/o"], "invalid choice"),
        (["import", "--key", "{key}", "--inbox", "{inbox}", "{tmp}/missing.eml"], "cannot read"),
        (["import", "--key", "{key}", "--inbox", "{inbox}", "{tmp}/existing.mbox"], "neither"),
        (["import", "--key", "{key}", "--inbox", "{closed}", "{tmp}/ok.eml"], "receive"),
        (["import", "--key", "{key}", "{tmp}/ok.eml"], "required: --inbox"),
    ],
)
def test_bad_input_to_the_data_commands_is_one_line_and_status_2(
    shared_file_sandbox: Sandbox,
    make_api: Callable[..., Api],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    words: str,
) -> None:
    api = make_api(target=shared_file_sandbox)
    inbox = api.create_inbox()
    closed = api.create_inbox(permissions=["send"])
    (tmp_path / "existing.mbox").write_bytes(b"not mail at all\n")
    (tmp_path / "ok.eml").write_bytes(b"Subject: ok\r\n\r\nbody\r\n")
    values = {"key": api.key, "tmp": str(tmp_path), "inbox": inbox["id"], "closed": closed["id"]}
    filled = [arg.format(**values) for arg in args]
    try:  # in process, for speed; the subprocess tests above and below cover the real exit
        code = main([filled[0], "--db", shared_file_sandbox.config.db, *filled[1:]])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("mailbot-sandbox") and words in lines[0], lines[0]


def test_data_commands_need_an_existing_database(tmp_path: Path) -> None:
    code, _, err = _cli("export", "--db", str(tmp_path / "none.db"), "--key", "mb_a", "x.mbox")
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
    assert not (tmp_path / "none.db").exists()


# -- logging -----------------------------------------------------------------------------------
SERVE_ANYWHERE = ("--port", "0", "--smtp-port", "0", "--db", ":memory:")


def _serve_and_stop(*args: str) -> str:
    """Start ``serve``, ask /health and open an SMTP session, stop it with SIGTERM; returns
    what it logged."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mailbot_sandbox", "serve", *SERVE_ANYWHERE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")},
    )
    assert process.stdout is not None
    banner = ""
    for line in process.stdout:
        banner += line
        if line.startswith("Press Ctrl+C"):
            break
    match = re.search(r"API\s+(http://\S+)/v1", banner)
    smtp_port = re.search(r"SMTP\s+127\.0\.0\.1:(\d+)", banner)
    assert match and smtp_port, banner
    requests.get(f"{match.group(1)}/health", timeout=5)
    with smtplib.SMTP("127.0.0.1", int(smtp_port.group(1)), timeout=10) as smtp:
        smtp.noop()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    return stderr


@pytest.mark.parametrize(
    ("level", "present", "absent"),
    [
        ("warning", [], ["sandbox started", "GET /health"]),
        (
            "info",
            ["INFO mailbot_sandbox: sandbox started", "sandbox stopped"],
            ["GET /health", "mail.log"],  # SMTP commands are debugging detail
        ),
        ("debug", ['DEBUG mailbot_sandbox: "GET /health HTTP/1.1" 200', "mail.log"], []),
    ],
)
def test_log_level_is_honoured(level: str, present: list[str], absent: list[str]) -> None:
    logged = _serve_and_stop("--log-level", level)
    for text in present:
        assert text in logged
    for text in absent:
        assert text not in logged
    if level == "warning":
        assert logged == ""


def test_json_logs_are_one_object_a_line() -> None:
    logged = _serve_and_stop("--log-format", "json")
    entries = [json.loads(line) for line in logged.splitlines()]
    started = next(entry for entry in entries if entry["message"].startswith("sandbox started"))
    assert started["level"] == "info" and started["logger"] == "mailbot_sandbox"
    assert started["api"].endswith("/v1") and started["data"] == ":memory:"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", started["time"])

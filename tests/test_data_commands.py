"""The data commands: export, import and reset, and their errors."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailbot_sandbox import Sandbox
from mailbot_sandbox.cli import main
from mailbot_sandbox.runtime.transfer import split_mbox
from tests.helpers import (
    Api,
    assert_consistent,
    mail_by_smtp,
    run_cli,
    send,
    smtp_message,
    subjects,
)


@pytest.fixture(scope="module")
def shared_file_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Like ``own_sandbox``, shared by tests that only read or make accounts of their own."""
    with Sandbox(db=str(tmp_path_factory.mktemp("shared") / "mail.db")) as running:
        yield running


TRICKY = [
    b"From: a@example.com\r\nSubject: crlf\r\n\r\nFrom the start\r\n>From quoted\r\n>>From x\r\n",
    b"From: b@example.com\nSubject: lf, no final newline\n\nFrom here\n\n>From there",
    b"From: c@example.com\nSubject: latin-1\nContent-Type: text/plain; charset=latin-1\n"
    b"Content-Transfer-Encoding: 8bit\n\ncaf\xe9\nFrom \n",
]


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
    mail_by_smtp(own_sandbox, source, smtp_message("x@example.com", [source["address"]], "by smtp"))
    originals = _raws(api, source)
    db = own_sandbox.config.db

    mbox, folder = tmp_path / "out" / "all.mbox", tmp_path / "eml"
    for dest in (mbox, folder):
        code, out, err = run_cli(
            "export", "--db", db, "--key", api.key, "--inbox", source["id"], str(dest)
        )
        assert (code, err) == (0, ""), err
        assert out.startswith("exported 4 messages of 1 inboxes")
    assert split_mbox(mbox.read_bytes()) == originals
    files = sorted(folder.rglob("*.eml"))
    assert [path.read_bytes() for path in files] == originals

    for dest, copy in ((mbox, mbox_copy), (folder, eml_copy)):
        code, out, _ = run_cli(
            "import", "--db", db, "--key", api.key, "--inbox", copy["address"], str(dest)
        )
        assert code == 0 and out.startswith("imported 4 messages")
        assert _raws(api, copy) == originals

    again = tmp_path / "again.mbox"
    assert (
        run_cli("export", "--db", db, "--key", api.key, "--inbox", mbox_copy["id"], str(again))[0]
        == 0
    )
    assert split_mbox(again.read_bytes()) == originals
    assert subjects(api, mbox_copy)[0] == "by smtp"
    assert_consistent(own_sandbox)


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

    code, out, _ = run_cli("reset", "--db", db, "--key", api.key)
    assert code == 0 and out.strip() == "erased 2 messages and 1 inboxes of 1 accounts"
    assert api.get("/v1/inboxes").json()["data"] == []
    assert len(other.get("/v1/inboxes").json()["data"]) == 1

    assert run_cli("reset", "--db", db, "--all")[0] == 0
    assert other.get("/v1/inboxes").json()["data"] == []
    assert api.create_inbox()  # the sandbox goes on working after a reset under it
    assert_consistent(own_sandbox)


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
    code, _, err = run_cli("export", "--db", str(tmp_path / "none.db"), "--key", "mb_a", "x.mbox")
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
    assert not (tmp_path / "none.db").exists()

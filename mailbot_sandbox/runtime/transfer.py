"""Export an account's mail as ``.eml`` files or an mbox file, and import them into an inbox.

Messages travel as the exact bytes the sandbox stored, so export, import and export again
gives the same bytes. The mbox flavour is *mboxrd*: a line of a message that starts with
``From `` (after any number of ``>``) gets one more ``>``, which reading takes off again, and
each message is followed by one newline. Import delivers every message through
:meth:`~mailbot_sandbox.core.delivery.Delivery.inject`, the domain layer's path for mail that
arrives from outside, so the inbox's rules and threading apply as for SMTP.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mailbot_sandbox.core.accounts import Account, stored_account
from mailbot_sandbox.core.services import Services
from mailbot_sandbox.errors import SandboxError
from mailbot_sandbox.ids import is_well_formed_key, parse_time
from mailbot_sandbox.store import Store, inboxes, messages
from mailbot_sandbox.store.inboxes import InboxName
from mailbot_sandbox.store.messages import ExportedMessage

FORMATS = ("eml", "mbox")
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)
_QUOTED_FROM_LINE = re.compile(rb"^>(>*From )", re.MULTILINE)
_SEPARATOR = re.compile(rb"^From ", re.MULTILINE)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9@._+-]")


class TransferError(SandboxError):
    """Bad input to an export or import; the message says which and why, in one line."""


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: ``messages`` messages of ``inboxes`` inboxes, to ``path``."""

    messages: int
    inboxes: int
    path: Path


def find_account(store: Store, key: str) -> Account:
    """The account of an API key in this database.

    Raises:
        TransferError: the key is malformed or was never used with this database.
    """
    if not is_well_formed_key(key):
        raise TransferError(f"API key {key!r} is not of the form mb_<letters, digits, - or _>")
    account = stored_account(store, key)
    if account is None:
        raise TransferError(f"no account in {store.path} uses that API key")
    return account


def find_inbox(store: Store, account: Account, inbox: str) -> InboxName:
    """An inbox of ``account`` by id (``inb_...``) or address.

    Raises:
        TransferError: the account has no such inbox.
    """
    row = inboxes.inbox_by_id_or_address(store, account.id, inbox, inbox.strip().lower())
    if row is None:
        raise TransferError(f"inbox {inbox!r} not found in this account")
    return row


def guess_format(dest: Path) -> str:
    """``mbox`` for a path ending in ``.mbox``, else ``eml`` (a folder)."""
    return "mbox" if dest.suffix.lower() == ".mbox" else "eml"


# -- export --------------------------------------------------------------------------------------
def export_mail(
    store: Store,
    account: Account,
    dest: Path,
    *,
    fmt: str | None = None,
    inbox: str | None = None,
) -> ExportResult:
    """Write the account's messages (or one inbox's), oldest first, to ``dest``.

    ``eml``: a folder with one subfolder per inbox address and one ``NNNNNN-<id>.eml`` file per
    message. ``mbox``: one mboxrd file. Nothing is overwritten.

    Raises:
        TransferError: unknown format or inbox, or ``dest`` already holds something.
    """
    fmt = fmt or guess_format(dest)
    if fmt not in FORMATS:
        raise TransferError(f"format must be eml or mbox, got {fmt!r}")
    inbox_id = find_inbox(store, account, inbox)["id"] if inbox is not None else None
    rows = messages.export_listing(store, account.id, inbox_id)
    if fmt == "mbox":
        _export_mbox(store, rows, dest)
    else:
        _export_eml(store, rows, dest)
    return ExportResult(len(rows), len({row["inbox_id"] for row in rows}), dest)


def _export_eml(store: Store, rows: list[ExportedMessage], dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise TransferError(f"{dest} already exists; export into a new or empty folder")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        positions: dict[str, int] = {}
        for row in rows:
            folder = dest / _UNSAFE_NAME.sub("_", row["address"])
            positions[row["inbox_id"]] = position = positions.get(row["inbox_id"], 0) + 1
            folder.mkdir(exist_ok=True)
            (folder / f"{position:06d}-{row['id']}.eml").write_bytes(
                messages.raw_bytes(store, row["raw_id"])
            )
    except OSError as exc:
        raise TransferError(f"cannot write {exc.filename or dest}: {exc.strerror}") from None


def _export_mbox(store: Store, rows: list[ExportedMessage], dest: Path) -> None:
    if dest.exists():
        raise TransferError(f"{dest} already exists; choose a new file name")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open("xb") as out:
            for row in rows:
                out.write(_from_line(row["from_address"], row["created_at"]))
                out.write(_FROM_LINE.sub(rb">\1", messages.raw_bytes(store, row["raw_id"])))
                out.write(b"\n")
    except OSError as exc:
        raise TransferError(f"cannot write {exc.filename or dest}: {exc.strerror}") from None


def _from_line(sender: str, created_at: str) -> bytes:
    """``From sender Sat Jan  3 01:05:34 2026``: the separator line that opens a message."""
    if not sender or any(ch.isspace() for ch in sender) or not sender.isascii():
        sender = "MAILER-DAEMON"
    moment = parse_time(created_at)
    stamp = time.asctime(moment.timetuple()) if moment else time.asctime(time.gmtime(0))
    return f"From {sender} {stamp}\n".encode("ascii")


# -- reading files -------------------------------------------------------------------------------
def read_messages(source: Path) -> Iterator[tuple[str, bytes]]:
    """The messages in ``source``, in order, as ``(where, raw bytes)``.

    ``source`` may be an ``.eml`` file, an mbox file, or a folder, searched recursively for
    ``.eml`` files in name order (the order an eml export writes them in).

    Raises:
        TransferError: ``source`` is missing, unreadable, or neither kind of mail file.
    """
    try:
        if source.is_dir():
            files = sorted(p for p in source.rglob("*") if p.suffix.lower() == ".eml")
            if not files:
                raise TransferError(f"{source} holds no .eml files")
            for path in files:
                yield str(path), path.read_bytes()
            return
        data = source.read_bytes()
    except OSError as exc:
        raise TransferError(f"cannot read {exc.filename or source}: {exc.strerror}") from None
    if data.startswith(b"From ") and source.suffix.lower() != ".eml":
        yield from ((f"{source} #{n}", raw) for n, raw in enumerate(split_mbox(data), 1))
    elif source.suffix.lower() in (".eml", ".msg") or _looks_like_headers(data):
        yield str(source), data
    else:
        raise TransferError(f"{source} is neither an .eml file nor an mbox file")


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mboxrd file, exactly as they were before they were written."""
    starts = [match.start() for match in _SEPARATOR.finditer(data)]
    if not starts or starts[0] != 0:
        raise TransferError("not an mbox file: it must begin with a 'From ' line")
    messages = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(data)
        line_end = data.find(b"\n", start, end)
        if line_end < 0:
            continue  # a bare separator line at the end of the file
        newline = b"\r\n" if data[line_end - 1 : line_end] == b"\r" else b"\n"
        body = data[line_end + 1 : end]
        if body.endswith(newline):
            body = body[: -len(newline)]  # the blank line that ends every message
        if body:
            messages.append(_QUOTED_FROM_LINE.sub(rb"\1", body))
    return messages


def _looks_like_headers(data: bytes) -> bool:
    first = data.split(b"\n", 1)[0]
    return bool(re.match(rb"^[!-9;-~]+:", first))


# -- import --------------------------------------------------------------------------------------
def import_mail(services: Services, account: Account, inbox: str, sources: list[Path]) -> int:
    """Deliver every message of ``sources`` into ``inbox``; returns how many were imported.

    Raises:
        TransferError: an input cannot be read, or the inbox refuses a message (the message
            names it and how many were imported before it).
    """
    target = find_inbox(services.store, account, inbox)
    imported = 0
    for source in sources:
        for where, raw in read_messages(source):
            try:
                services.delivery.inject(account, target["id"], raw)
            except SandboxError as exc:
                reason = getattr(exc, "message", str(exc))
                raise TransferError(f"{where}: {reason} (imported {imported} before it)") from None
            imported += 1
    return imported

"""Failure artifacts: a failed test's mail written as ``.eml`` files, so it can be opened
after the sandbox that held it is gone (the in-process one ends with the session)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from pytest_mailbot.handles import Inbox, Outbox

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]+")


def folder_for(root: Path, nodeid: str) -> Path:
    """The folder of one test's artifacts under ``root``: its node id made a safe name."""
    return root / (_UNSAFE.sub("_", nodeid).strip("_") or "test")


def save_mail(folder: Path, inboxes: Sequence[Inbox], outbox: Outbox | None) -> list[str]:
    """Write each inbox's messages to ``folder/<address>/`` and the outbox captures of the
    test to ``folder/outbox/``, oldest first, one ``.eml`` file each (the bytes as stored);
    returns one line per folder written, saying what it holds. A folder left by an earlier
    run of the same test is replaced."""
    if folder.exists():
        shutil.rmtree(folder)
    lines = []
    for inbox in inboxes:
        messages = list(reversed(inbox.messages()))
        target = folder / _UNSAFE.sub("_", inbox.address)
        target.mkdir(parents=True, exist_ok=True)
        for number, message in enumerate(messages, 1):
            direction = message.data.get("direction", "message")
            (target / f"{number:03d}-{direction}-{message.id}.eml").write_bytes(message.raw)
        lines.append(f"{inbox.address}: {len(messages)} message(s) in {target}")
    if outbox is not None:
        captured = list(reversed(outbox.messages()))
        if captured:
            target = folder / "outbox"
            target.mkdir(parents=True, exist_ok=True)
            for number, message in enumerate(captured, 1):
                (target / f"{number:03d}-{message.id}.eml").write_bytes(message.raw)
            lines.append(f"outbox: {len(captured)} captured message(s) in {target}")
    return lines

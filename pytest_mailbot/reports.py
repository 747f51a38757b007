"""What a failed test leaves behind: its mail written as ``.eml`` files, and a ``mailbot``
section of its report naming them. The fixtures put what this needs in the stash."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_mailbot.handles import Inbox, Outbox
    from pytest_mailbot.session import MailbotSandbox

#: The inboxes a test made (``mailbot_inbox``), on the test's item.
INBOXES = pytest.StashKey[list["Inbox"]]()
#: The outbox a test looked at (``mailbot_outbox``), on the test's item.
OUTBOX = pytest.StashKey["Outbox"]()
#: Set on a test's item when its setup or call failed: its inboxes are kept.
FAILED = pytest.StashKey[bool]()
#: The session's sandbox, on the config.
SANDBOX = pytest.StashKey["MailbotSandbox"]()


def _artifacts_root(config: pytest.Config) -> Path:
    given = config.getoption("--mailbot-artifacts")
    if given:
        return config.invocation_params.dir / given
    try:
        cache_dir = str(config.getini("cache_dir"))
    except ValueError:  # the cache plugin is off, and with it its setting
        cache_dir = ".pytest_cache"
    return config.rootpath / cache_dir / "mailbot"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Mark a failed test (its inboxes are kept) and write its mail as failure artifacts."""
    report = yield
    if report.failed and report.when in ("setup", "call"):
        item.stash[FAILED] = True
        inboxes = item.stash.get(INBOXES, [])
        outbox = item.stash.get(OUTBOX, None)
        sandbox = item.config.stash.get(SANDBOX, None)
        if inboxes or outbox is not None:
            report.sections.append(("mailbot", _save_artifacts(item, inboxes, outbox, sandbox)))
    return report


def _save_artifacts(
    item: pytest.Item, inboxes: list[Inbox], outbox: Outbox | None, sandbox: MailbotSandbox | None
) -> str:
    """Write the failed test's mail and say where; link the sandbox only when it outlives
    the run (an external one): the in-process sandbox and its URLs end with the session."""
    from pytest_mailbot.artifacts import folder_for, save_mail

    folder = folder_for(_artifacts_root(item.config), item.nodeid)
    try:
        lines = save_mail(folder, inboxes, outbox)
    except Exception as exc:  # a report hook must not raise: say why nothing was saved
        lines = [f"could not save this test's mail to {folder}: {type(exc).__name__}: {exc}"]
    else:
        lines.insert(0, f"this test's mail, as .eml files: {folder}")
    if sandbox is not None and sandbox.external:
        lines.extend(f"{i.address}  (kept; its mail: {i.url})" for i in inboxes)
    return "\n".join(lines)

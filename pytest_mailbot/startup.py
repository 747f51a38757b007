"""The session-scoped fixtures: the sandbox of this session (started in-process, or the one
``--mailbot-url`` names), its settings, and this session's client of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_mailbot.options import external_target
from pytest_mailbot.reports import SANDBOX
from pytest_mailbot.session import MailbotSandbox

if TYPE_CHECKING:
    from pytest_mailbot.client import MailbotClient


@pytest.fixture(scope="session")
def mailbot_sandbox_settings(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Settings of the in-process sandbox, as keywords of ``mailbot_sandbox.Sandbox``.

    Override this fixture (session scope) in your ``conftest.py`` to run the sandbox the way
    your app needs it, e.g. ``{"shared_domain": "dev.test", "max_message_size": 1_000_000}``.
    Useful keys: ``shared_domain``, ``domain_policy`` (``"auto"`` or ``"strict"``),
    ``max_message_size`` (bytes), ``api_keys`` (only these keys are accepted; the session then
    uses the first unless ``--mailbot-api-key`` names another), ``dns_server``. A bad value
    fails the session with an error naming the setting. Not used with ``--mailbot-url``: an
    external sandbox has the settings it was started with.

    The default reads the ``mailbot_shared_domain`` ini setting.
    """
    return {"shared_domain": pytestconfig.getini("mailbot_shared_domain")}


@pytest.fixture(scope="session")
def mailbot_sandbox(
    pytestconfig: pytest.Config, mailbot_sandbox_settings: dict[str, Any]
) -> Iterator[MailbotSandbox]:
    """The sandbox for this session (one per xdist worker): started in-process on ports the
    OS picks, with ``mailbot_sandbox_settings``, or the one given by ``--mailbot-url``. Holds
    a fresh API key, so this session is an account of its own: nothing another session or
    worker does is visible to it."""
    timeout = float(pytestconfig.getini("mailbot_wait_timeout"))
    external = external_target(pytestconfig)
    if external is not None:
        key = pytestconfig.getoption("--mailbot-api-key") or _fresh_key()
        base, smtp_host, smtp_port = external
        handle = MailbotSandbox(base, smtp_host, smtp_port, key, True, timeout)
        pytestconfig.stash[SANDBOX] = handle
        yield handle
        handle.close()
        return
    from mailbot_sandbox import Sandbox

    # With configured keys only those are accepted, so a fresh key would be refused.
    configured = list(mailbot_sandbox_settings.get("api_keys") or ())
    key = pytestconfig.getoption("--mailbot-api-key") or (
        configured[0] if configured else _fresh_key()
    )
    # Plain SMTP mail to outside addresses lands in the session's own outbox (mailbot_outbox).
    with Sandbox(**{"catch_all_key": key, **mailbot_sandbox_settings}) as sandbox:
        handle = MailbotSandbox(
            sandbox.base_url, sandbox.smtp_host, sandbox.smtp_port, key, False, timeout
        )
        pytestconfig.stash[SANDBOX] = handle
        yield handle
        handle.close()


def _fresh_key() -> str:
    return f"mb_pytest_{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def mailbot(mailbot_sandbox: MailbotSandbox) -> MailbotClient:
    """A client of this session's account: inboxes, messages, threads, control plane."""
    return mailbot_sandbox.client()

"""The session-scoped fixtures: the sandbox of this session (started in-process, or the one
``--mailbot-url`` names), its settings, and this session's client of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
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
    pytestconfig: pytest.Config,
    mailbot_sandbox_settings: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[MailbotSandbox]:
    """The sandbox for this session (one per xdist worker): started in-process on ports the
    OS picks, with ``mailbot_sandbox_settings``, or the one given by ``--mailbot-url``. Holds
    a fresh API key, so this session is an account of its own: nothing another session or
    worker does is visible to it. Its ``ssl_context`` trusts the sandbox's CA (an external
    sandbox's is fetched from ``GET /sandbox/v1/tls/ca.pem``)."""
    timeout = float(pytestconfig.getini("mailbot_wait_timeout"))
    external = external_target(pytestconfig)
    if external is not None:
        key = pytestconfig.getoption("--mailbot-api-key") or _fresh_key()
        handle = MailbotSandbox(
            external.base_url,
            external.smtp_host,
            external.smtp_port,
            key,
            True,
            timeout,
            smtps_port=external.smtps_port,
            ca_file=_fetch_ca(external.base_url, tmp_path_factory.mktemp("mailbot-tls")),
        )
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
            sandbox.base_url,
            sandbox.smtp_host,
            sandbox.smtp_port,
            key,
            False,
            timeout,
            smtps_port=sandbox.smtps_port,
            ca_file=sandbox.tls_ca_file,
        )
        pytestconfig.stash[SANDBOX] = handle
        yield handle
        handle.close()


def _fetch_ca(base_url: str, folder: Path) -> str | None:
    """The external sandbox's CA certificate, saved in ``folder``; None when it has no CA of
    its own (it presents a certificate it was given: ``404 no_sandbox_ca``)."""
    import requests

    response = requests.get(f"{base_url}/sandbox/v1/tls/ca.pem", timeout=10)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    path = folder / "mailbot-sandbox-ca.pem"
    path.write_bytes(response.content)
    return str(path)


def _fresh_key() -> str:
    return f"mb_pytest_{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def mailbot(mailbot_sandbox: MailbotSandbox) -> MailbotClient:
    """A client of this session's account: inboxes, messages, threads, control plane."""
    return mailbot_sandbox.client()

"""pytest entry point: options and fixtures only. The work is done by mailbot_sandbox (the
server) and by pytest_mailbot.client / handles (what a test holds)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

pytest.register_assert_rewrite(
    "pytest_mailbot.handles", "pytest_mailbot.message", "pytest_mailbot.webhooks"
)

if TYPE_CHECKING:
    from pytest_mailbot.client import MailbotClient
    from pytest_mailbot.djangomail import DjangoEmail
    from pytest_mailbot.handles import Clock, Inbox, Outbox
    from pytest_mailbot.webhooks import WebhookReceiver

_INBOXES = pytest.StashKey[list["Inbox"]]()
_OUTBOX = pytest.StashKey["Outbox"]()
_FAILED = pytest.StashKey[bool]()
_SANDBOX = pytest.StashKey["MailbotSandbox"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``mailbot sandbox`` options and ini settings."""
    group = parser.getgroup("mailbot", "mailbot sandbox")
    group.addoption(
        "--mailbot-url",
        default=None,
        metavar="URL",
        help="use the sandbox at URL (e.g. http://127.0.0.1:8025, a docker container) instead "
        "of starting one in-process; also MAILBOT_SANDBOX_URL",
    )
    group.addoption(
        "--mailbot-smtp",
        default=None,
        metavar="HOST:PORT",
        help="SMTP address of the sandbox given by --mailbot-url (default: its host, port 1025)",
    )
    group.addoption(
        "--mailbot-api-key",
        default=None,
        metavar="KEY",
        help="API key to use (default: a fresh mb_ key per session and xdist worker, so each "
        "is an isolated account)",
    )
    group.addoption(
        "--mailbot-artifacts",
        default=None,
        metavar="DIR",
        help="where a failed test's mail is written as .eml files, one folder per test "
        "(default: .pytest_cache/mailbot)",
    )
    parser.addini("mailbot_wait_timeout", "default seconds wait_for() waits", default="10")
    parser.addini(
        "mailbot_shared_domain", "shared domain of the in-process sandbox", default="mailbot.id"
    )


@dataclass
class MailbotSandbox:
    """The sandbox this session uses, and this session's account on it."""

    base_url: str
    smtp_host: str
    smtp_port: int
    api_key: str
    external: bool
    wait_timeout: float = 10.0
    _clients: list[MailbotClient] = field(default_factory=list, repr=False)
    # Inboxes kept because their test failed, by address: a later test may reclaim one.
    kept: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def api_url(self) -> str:
        """``base_url`` for ``MailBot(api_key=..., base_url=...)``."""
        return f"{self.base_url}/v1"

    @property
    def env(self) -> dict[str, str]:
        """The variables an app reads to reach this sandbox with this session's account."""
        return {
            "MAILBOT_API_KEY": self.api_key,
            "MAILBOT_BASE_URL": self.api_url,
            "MAILBOT_SMTP_HOST": self.smtp_host,
            "MAILBOT_SMTP_PORT": str(self.smtp_port),
        }

    def client(self) -> MailbotClient:
        """A new client of this session's account, closed with the session."""
        from pytest_mailbot.client import MailbotClient

        made = MailbotClient(self.base_url, self.api_key)
        self._clients.append(made)
        return made

    def close(self) -> None:
        """Close the clients made by :meth:`client`."""
        for made in self._clients:
            made.close()


def _external(config: pytest.Config) -> tuple[str, str, int] | None:
    url = config.getoption("--mailbot-url") or os.environ.get("MAILBOT_SANDBOX_URL")
    if not url:
        return None
    from urllib.parse import urlsplit

    base = url.rstrip("/").removesuffix("/v1")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise pytest.UsageError(f"--mailbot-url must look like http://host:port, got {url!r}")
    smtp = config.getoption("--mailbot-smtp") or f"{parts.hostname}:1025"
    host, _, port = smtp.rpartition(":")
    if not host or not port.isdigit():
        raise pytest.UsageError(f"--mailbot-smtp must look like host:port, got {smtp!r}")
    return base, host, int(port)


def pytest_configure(config: pytest.Config) -> None:
    """Check ``--mailbot-url`` once, up front: a wrong or dead URL is a usage error."""
    external = _external(config)
    if external is None:
        return
    import requests

    try:
        requests.get(f"{external[0]}/health", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        reason = type(exc).__name__
        raise pytest.UsageError(f"no mailbot sandbox answers at {external[0]} ({reason})") from None


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
    external = _external(pytestconfig)
    if external is not None:
        key = pytestconfig.getoption("--mailbot-api-key") or _fresh_key()
        base, smtp_host, smtp_port = external
        handle = MailbotSandbox(base, smtp_host, smtp_port, key, True, timeout)
        pytestconfig.stash[_SANDBOX] = handle
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
        pytestconfig.stash[_SANDBOX] = handle
        yield handle
        handle.close()


def _fresh_key() -> str:
    return f"mb_pytest_{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def mailbot(mailbot_sandbox: MailbotSandbox) -> MailbotClient:
    """A client of this session's account: inboxes, messages, threads, control plane."""
    return mailbot_sandbox.client()


def _username() -> str:
    """A readable, unique username such as ``maria.lopez.3f9a1c2e``.

    Faker's name lists, without building a whole Faker (slow, and paid by every worker).
    """
    import random

    from faker.providers.person.en_US import Provider as Names

    first = random.choice(list(Names.first_names))
    last = random.choice(list(Names.last_names))
    name = re.sub(r"[^a-z0-9.]", "", f"{first}.{last}".lower()).strip(".") or "user"
    return f"{name[:40]}.{uuid.uuid4().hex[:8]}"


@pytest.fixture
def mailbot_inbox(
    request: pytest.FixtureRequest, mailbot: MailbotClient, mailbot_sandbox: MailbotSandbox
) -> Iterator[Callable[..., Inbox]]:
    """Make fresh inboxes: ``mailbot_inbox(permissions=["receive"])``. Each gets a unique,
    readable address unless ``username`` is given. They are erased, mail and all, after the
    test; when the test fails they are kept and named in the report so you can look at their
    mail.

    Keywords: ``username``, ``domain``, ``display_name``, ``permissions``,
    ``daily_send_limit``, ``labels``.
    """
    from pytest_mailbot.client import MailbotApiError
    from pytest_mailbot.handles import Inbox

    made: list[Inbox] = []
    request.node.stash[_INBOXES] = made

    def make(username: str | None = None, **fields: Any) -> Inbox:
        try:
            data = mailbot.create_inbox(username=username or _username(), **fields)
        except MailbotApiError as exc:
            address = exc.details.get("address")
            if exc.status != 409 or address not in mailbot_sandbox.kept:
                raise
            # Kept (and reported) by an earlier failed test: reclaim the address.
            mailbot.erase_inbox(mailbot_sandbox.kept.pop(address))
            data = mailbot.create_inbox(username=username, **fields)
        inbox = Inbox(
            mailbot,
            data,
            default_timeout=mailbot_sandbox.wait_timeout,
            linkable=mailbot_sandbox.external,  # an in-process sandbox ends with the run
        )
        made.append(inbox)
        return inbox

    yield make
    for inbox in made:
        if request.node.stash.get(_FAILED, False):
            mailbot_sandbox.kept[inbox.address] = inbox.id
            continue
        with contextlib.suppress(MailbotApiError):  # the test may have removed it itself
            mailbot.erase_inbox(inbox.id)


@pytest.fixture
def inbox(mailbot_inbox: Callable[..., Inbox]) -> Inbox:
    """One ready inbox with every permission, unique to this test."""
    return mailbot_inbox()


@pytest.fixture
def mailbot_env(mailbot_sandbox: MailbotSandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Set ``MAILBOT_API_KEY``, ``MAILBOT_BASE_URL``, ``MAILBOT_SMTP_HOST`` and
    ``MAILBOT_SMTP_PORT`` for this test (restored afterwards); returns them."""
    for name, value in mailbot_sandbox.env.items():
        monkeypatch.setenv(name, value)
    return mailbot_sandbox.env


@pytest.fixture
def mailbot_outbox(request: pytest.FixtureRequest, mailbot: MailbotClient) -> Outbox:
    """What this account sent to addresses outside the sandbox (captured, never sent),
    including plain SMTP mail the in-process sandbox's catch-all captured; written with the
    failure artifacts when the test fails."""
    from pytest_mailbot.handles import Outbox

    outbox = Outbox(mailbot)
    request.node.stash[_OUTBOX] = outbox
    return outbox


@pytest.fixture
def mailbot_clock(mailbot: MailbotClient) -> Iterator[Clock]:
    """Move this account's clock (daily limits, thread windows); put back after the test."""
    from pytest_mailbot.handles import Clock

    clock = Clock(mailbot)
    yield clock
    clock.reset()


@pytest.fixture
def mailbot_webhook_address() -> tuple[str, int, str | None]:
    """Where ``mailbot_webhook_receiver`` listens: ``(host, port, url_host)``. Port 0 lets
    the OS pick; ``url_host`` (None: ``host``) is the name the sandbox posts to. Override it
    in your ``conftest.py`` for a sandbox in docker: ``("0.0.0.0", 0,
    "host.docker.internal")``."""
    return ("127.0.0.1", 0, None)


@pytest.fixture
def mailbot_webhook_receiver(
    mailbot: MailbotClient, mailbot_webhook_address: tuple[str, int, str | None]
) -> Iterator[WebhookReceiver]:
    """A webhook endpoint of this test: ``receiver.subscribe(["message.received"], inbox)``
    creates a webhook posting to ``receiver.url`` and checks each delivery's signature with
    its secret; ``receiver.wait_for(event="message.received", timeout=5)`` returns the
    delivery (``headers``, ``json``, ``data``, ``verified``) or fails listing what did
    arrive. Its webhooks are deleted after the test."""
    from pytest_mailbot.webhooks import WebhookReceiver

    host, port, url_host = mailbot_webhook_address
    with WebhookReceiver(mailbot, host, port, url_host) as receiver:
        yield receiver


if importlib.util.find_spec("pytest_django") is not None:  # only where pytest-django is

    @pytest.fixture
    def mailbot_django_email(settings: Any, mailbot_sandbox: MailbotSandbox) -> DjangoEmail:
        """Point Django's email at this session's sandbox for the test (pytest-django's
        ``settings`` puts everything back after it): the SMTP backend, the sandbox's host
        and port, TLS off, no login. ``mailbot_django_email.login_as(inbox)`` logs in as
        that inbox, so mail goes out from it and a wrong ``DEFAULT_FROM_EMAIL`` is refused.
        """
        from pytest_mailbot.djangomail import DjangoEmail

        return DjangoEmail(settings, mailbot_sandbox)


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
    report = yield
    if report.failed and report.when in ("setup", "call"):
        item.stash[_FAILED] = True
        inboxes = item.stash.get(_INBOXES, [])
        outbox = item.stash.get(_OUTBOX, None)
        sandbox = item.config.stash.get(_SANDBOX, None)
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

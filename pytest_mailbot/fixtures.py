"""The per-test fixtures: fresh inboxes, the environment of an app under test, the outbox,
the account's clock, a webhook receiver and Django's email settings."""

from __future__ import annotations

import contextlib
import importlib.util
import re
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_mailbot.reports import FAILED, INBOXES, OUTBOX

if TYPE_CHECKING:
    from pytest_mailbot.client import MailbotClient
    from pytest_mailbot.djangomail import DjangoEmail
    from pytest_mailbot.handles import Clock, Inbox, Outbox
    from pytest_mailbot.session import MailbotSandbox
    from pytest_mailbot.webhooks import WebhookReceiver

#: pytest-django is installed: ``mailbot_django_email`` (which needs its ``settings``) exists.
WITH_PYTEST_DJANGO = importlib.util.find_spec("pytest_django") is not None


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
    request.node.stash[INBOXES] = made

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
        if request.node.stash.get(FAILED, False):
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
    request.node.stash[OUTBOX] = outbox
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


if WITH_PYTEST_DJANGO:

    @pytest.fixture
    def mailbot_django_email(settings: Any, mailbot_sandbox: MailbotSandbox) -> DjangoEmail:
        """Point Django's email at this session's sandbox for the test (pytest-django's
        ``settings`` puts everything back after it): Django's SMTP backend trusting the
        sandbox's CA, the sandbox's host and port, STARTTLS with the certificate and host
        name verified, no login. ``mailbot_django_email.use("ssl")`` (implicit TLS on the
        SMTPS port) or ``use("plain")`` switch; ``mailbot_django_email.login_as(inbox)``
        logs in as that inbox, so mail goes out from it and a wrong ``DEFAULT_FROM_EMAIL``
        is refused.
        """
        from pytest_mailbot.djangomail import DjangoEmail

        return DjangoEmail(settings, mailbot_sandbox)

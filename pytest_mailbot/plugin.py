"""pytest entry point (``pytest11``): the plugin's hooks and fixtures, gathered here from
the modules that define them, so pytest finds them all in this one module.

- ``options``: command-line options, ini settings, the check of ``--mailbot-url``;
- ``startup``: the session's sandbox (in-process or external), its settings, its client;
- ``fixtures``: what each test gets (inboxes, environment, outbox, clock, webhooks, Django);
- ``reports``: a failed test's mail kept as ``.eml`` files and named in its report.

The work itself is done by ``mailbot_sandbox`` (the server) and by ``pytest_mailbot.client``,
``handles`` and ``webhooks`` (what a test holds).
"""

from __future__ import annotations

import pytest

# Before anything imports them, so their assertions explain themselves when they fail.
pytest.register_assert_rewrite(
    "pytest_mailbot.handles", "pytest_mailbot.message", "pytest_mailbot.webhooks"
)

from pytest_mailbot.fixtures import (  # noqa: E402
    WITH_PYTEST_DJANGO,
    inbox,
    mailbot_clock,
    mailbot_env,
    mailbot_inbox,
    mailbot_outbox,
    mailbot_webhook_address,
    mailbot_webhook_receiver,
)
from pytest_mailbot.options import pytest_addoption, pytest_configure  # noqa: E402
from pytest_mailbot.reports import pytest_runtest_makereport  # noqa: E402
from pytest_mailbot.session import MailbotSandbox  # noqa: E402
from pytest_mailbot.startup import mailbot, mailbot_sandbox, mailbot_sandbox_settings  # noqa: E402

__all__ = [
    "MailbotSandbox",
    "inbox",
    "mailbot",
    "mailbot_clock",
    "mailbot_env",
    "mailbot_inbox",
    "mailbot_outbox",
    "mailbot_sandbox",
    "mailbot_sandbox_settings",
    "mailbot_webhook_address",
    "mailbot_webhook_receiver",
    "pytest_addoption",
    "pytest_configure",
    "pytest_runtest_makereport",
]

if WITH_PYTEST_DJANGO:  # the Django fixture needs pytest-django's settings
    from pytest_mailbot.fixtures import mailbot_django_email

    __all__ += ["mailbot_django_email"]

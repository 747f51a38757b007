"""Django's email settings pointed at the sandbox, for the ``mailbot_django_email`` fixture
(pytest-django's ``settings`` fixture puts every one back after the test)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_mailbot.handles import Inbox
    from pytest_mailbot.session import MailbotSandbox


class DjangoEmail:
    """Django's SMTP backend sending to this session's sandbox.

    Made by the fixture with the settings already applied: the SMTP backend (pytest-django
    switches to the in-memory one for a test run), the sandbox's host and port, TLS and SSL
    off (the sandbox listens in plain SMTP there), no login. :meth:`login_as` logs in as an
    inbox, so Django sends *from* it under its rules and the sender is checked.
    """

    def __init__(self, settings: Any, sandbox: MailbotSandbox) -> None:
        self._settings = settings
        self._sandbox = sandbox
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = sandbox.smtp_host
        settings.EMAIL_PORT = sandbox.smtp_port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""

    def login_as(self, inbox: Inbox) -> None:
        """Log in as ``inbox`` (its address, this session's API key) from the next send on:
        mail then goes out *from* that inbox, counted against its daily limit, and a
        ``DEFAULT_FROM_EMAIL`` other than its address is refused (553)."""
        self._settings.EMAIL_HOST_USER = inbox.address
        self._settings.EMAIL_HOST_PASSWORD = self._sandbox.api_key

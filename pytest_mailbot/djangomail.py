"""Django's email settings pointed at the sandbox, for the ``mailbot_django_email`` fixture
(pytest-django's ``settings`` fixture puts every one back after the test), and the SMTP
backend that trusts the sandbox's CA.

Imported only where Django is installed: by the fixture, and by Django itself through
``EMAIL_BACKEND``.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any, Literal, get_args

from django.conf import settings as django_settings
from django.core.mail.backends.smtp import EmailBackend
from django.utils.functional import cached_property

if TYPE_CHECKING:
    from pytest_mailbot.handles import Inbox
    from pytest_mailbot.session import MailbotSandbox

#: How Django talks to the sandbox: plain SMTP, STARTTLS on the SMTP port, or implicit TLS
#: on the SMTPS port.
Security = Literal["plain", "starttls", "ssl"]

#: The Django setting that names the CA file :class:`SandboxEmailBackend` trusts.
CA_SETTING = "MAILBOT_SANDBOX_CA_FILE"


class SandboxEmailBackend(EmailBackend):
    """Django's SMTP backend, unchanged but for one thing: its TLS context also trusts the
    CA named by the ``MAILBOT_SANDBOX_CA_FILE`` setting, so certificate and host-name checks
    stay on against the sandbox.

    Django builds the context of STARTTLS and of implicit TLS in ``EmailBackend.ssl_context``
    from the system's CAs; its ``EMAIL_SSL_CERTFILE`` and ``EMAIL_SSL_KEYFILE`` are the
    *client's* certificate, not a CA to trust, so a subclass is Django's way to add one.
    """

    @cached_property
    def ssl_context(self) -> ssl.SSLContext:
        """Django's context (the system's CAs, or the client certificate it was given),
        which also trusts the sandbox CA."""
        context: ssl.SSLContext = super().ssl_context
        ca_file = getattr(django_settings, CA_SETTING, None)
        if ca_file:
            context.load_verify_locations(cafile=ca_file)
        return context


class DjangoEmail:
    """Django's SMTP backend sending to this session's sandbox.

    Made by the fixture with the settings already applied: the SMTP backend (pytest-django
    switches to the in-memory one for a test run), the sandbox's host, STARTTLS on its SMTP
    port with the certificate verified against the sandbox's CA (as production mail servers
    are verified), no login. :meth:`use` picks plain SMTP or implicit TLS instead;
    :meth:`login_as` logs in as an inbox, so Django sends *from* it under its rules and the
    sender is checked.

    A sandbox given its own certificate (``--tls-cert``) has no CA to hand out: Django then
    checks that certificate against the system's CAs only, so trust its issuer there (e.g.
    ``SSL_CERT_FILE``) or ``use("plain")``.
    """

    def __init__(self, settings: Any, sandbox: MailbotSandbox) -> None:
        self._settings = settings
        self._sandbox = sandbox
        settings.EMAIL_BACKEND = f"{__name__}.{SandboxEmailBackend.__name__}"
        settings.EMAIL_HOST = sandbox.smtp_host
        setattr(settings, CA_SETTING, sandbox.ca_file)
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        self.security: Security = "starttls"
        self.use("starttls")

    def use(self, security: Security) -> None:
        """Talk to the sandbox with ``security`` from the next send on:

        - ``"starttls"`` (the default): the SMTP port, then STARTTLS (``EMAIL_USE_TLS``);
        - ``"ssl"``: TLS from the first byte on the SMTPS port (``EMAIL_USE_SSL``);
        - ``"plain"``: the SMTP port without TLS (refused by a sandbox started with
          ``--smtp-require-tls``, as a server that requires TLS refuses it).

        Raises:
            ValueError: ``security`` is none of those.
        """
        if security not in get_args(Security):
            raise ValueError(
                f"mailbot_django_email.use() takes one of {', '.join(get_args(Security))}, "
                f"got {security!r}"
            )
        self.security = security
        self._settings.EMAIL_PORT = (
            self._sandbox.smtps_port if security == "ssl" else self._sandbox.smtp_port
        )
        self._settings.EMAIL_USE_TLS = security == "starttls"
        self._settings.EMAIL_USE_SSL = security == "ssl"

    def login_as(self, inbox: Inbox) -> None:
        """Log in as ``inbox`` (its address, this session's API key) from the next send on:
        mail then goes out *from* that inbox, counted against its daily limit, and a
        ``DEFAULT_FROM_EMAIL`` other than its address is refused (553)."""
        self._settings.EMAIL_HOST_USER = inbox.address
        self._settings.EMAIL_HOST_PASSWORD = self._sandbox.api_key

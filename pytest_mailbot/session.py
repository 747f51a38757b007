"""``MailbotSandbox``: what the ``mailbot_sandbox`` fixture hands a test, the sandbox this
session uses and this session's account on it."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_mailbot.client import MailbotClient


@dataclass
class MailbotSandbox:
    """The sandbox this session uses, and this session's account on it."""

    base_url: str
    smtp_host: str
    smtp_port: int
    api_key: str
    external: bool
    wait_timeout: float = 10.0
    #: The implicit-TLS (SMTPS) port, on ``smtp_host``; STARTTLS is offered on ``smtp_port``.
    smtps_port: int = 1465
    #: The sandbox CA's certificate (PEM file) that signed the SMTP server's certificate, for
    #: clients that verify it; None when the sandbox presents a certificate it was given.
    ca_file: str | None = None
    _ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
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

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """A client-side SSL context that trusts the sandbox CA and checks the certificate
        and host name, as production clients do: for
        ``smtplib.SMTP(...).starttls(context=...)``, ``smtplib.SMTP_SSL(host, smtps_port,
        context=...)`` or aiosmtplib's ``tls_context``. Connect to ``smtp_host`` (or
        ``localhost``): the certificate names both.

        Raises:
            RuntimeError: the sandbox has no CA of its own (it was given a certificate).
        """
        if self._ssl_context is None:
            if self.ca_file is None:
                raise RuntimeError(
                    "this sandbox presents the certificate it was given (tls_cert, "
                    "--tls-cert), not one signed by a CA of its own, so mailbot_sandbox has no "
                    "CA to trust: make the context from that certificate's issuer, e.g. "
                    "ssl.create_default_context(cafile='issuer.pem')"
                )
            self._ssl_context = ssl.create_default_context(cafile=self.ca_file)
        return self._ssl_context

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

"""``MailbotSandbox``: what the ``mailbot_sandbox`` fixture hands a test, the sandbox this
session uses and this session's account on it."""

from __future__ import annotations

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

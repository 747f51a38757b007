"""A password-reset mailer that speaks plain SMTP, like most web frameworks' mail backends.

It authenticates as its own ``noreply`` inbox (user = the inbox address, password = the API
key), so the sandbox applies that inbox's permissions and daily send limit to it.
"""

from __future__ import annotations

import os
import secrets
import smtplib
from email.message import EmailMessage


class ResetMailer:
    def __init__(self, sender: str) -> None:
        self.sender = sender
        self.host = os.environ["MAILBOT_SMTP_HOST"]
        self.port = int(os.environ["MAILBOT_SMTP_PORT"])
        self.password = os.environ["MAILBOT_API_KEY"]

    def send_reset(self, email: str) -> str:
        """Mail a reset link; returns the token. Raises smtplib errors as they come."""
        token = secrets.token_urlsafe(12)
        message = EmailMessage()
        message["From"] = f"Example Shop <{self.sender}>"
        message["To"] = email
        message["Subject"] = "Reset your password"
        message.set_content(
            f"Reset it here: https://shop.example/reset/{token}\n"
            "If you did not ask for this, ignore this mail."
        )
        with smtplib.SMTP(self.host, self.port, timeout=10) as client:
            client.login(self.sender, self.password)
            client.send_message(message)
        return token

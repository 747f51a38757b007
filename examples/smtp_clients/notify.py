"""The same notification sent with the standard library's smtplib and with aiosmtplib, the
way an app's own mail code does it (host and port from its configuration)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import aiosmtplib


def send_over_implicit_tls(
    host: str, port: int, message: EmailMessage, tls: ssl.SSLContext
) -> None:
    """smtplib on an implicit-TLS ("SMTPS") port: TLS from the first byte."""
    with smtplib.SMTP_SSL(host, port, context=tls, timeout=10) as client:
        client.send_message(message)


def notification(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def send_sync(
    host: str,
    port: int,
    message: EmailMessage,
    login: tuple[str, str] | None = None,
    tls: ssl.SSLContext | None = None,
) -> None:
    """smtplib: one connection per message; with ``tls``, STARTTLS first, verified with it."""
    with smtplib.SMTP(host, port, timeout=10) as client:
        if tls:
            client.starttls(context=tls)
        if login:
            client.login(*login)
        client.send_message(message)


async def send_async(
    host: str, port: int, message: EmailMessage, login: tuple[str, str] | None = None
) -> None:
    """aiosmtplib: the same from async code (no STARTTLS here: plain SMTP)."""
    await aiosmtplib.send(
        message,
        hostname=host,
        port=port,
        username=login[0] if login else None,
        password=login[1] if login else None,
        start_tls=False,
        timeout=10,
    )

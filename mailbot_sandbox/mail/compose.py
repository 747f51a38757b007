"""Building outgoing messages.

The common case (no attachments, ASCII addresses) is written out directly: it is what every
API send makes, and ``EmailMessage`` spends many times longer on it than this does.
Everything else (attachments, SMTPUTF8 addresses) goes through ``EmailMessage``.
"""

from __future__ import annotations

import base64
import os
import quopri
import re
from datetime import UTC, datetime
from email import policy as email_policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from mailbot_sandbox.mail.message import Attachment

_SMTP_POLICY = email_policy.SMTP.clone(cte_type="7bit")
_SMTPUTF8_POLICY = email_policy.SMTPUTF8
# Headers this module writes itself; a caller's ``headers`` never replace them (nor Content-*).
MANAGED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "reply-to",
        "in-reply-to",
        "references",
        "sender",
        "return-path",
    }
)
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
_PRINTABLE = re.compile(r"[ -~]*")


def _address(addr: str, name: str | None = None) -> Address:
    # username/domain (not addr_spec=) because Address rejects non-ASCII local parts.
    local, at, domain = addr.strip().rpartition("@")
    display = " ".join((name or "").splitlines())
    return Address(display, local, domain) if at else Address(display, domain, "")


def build_message(
    *,
    from_address: str,
    from_name: str | None,
    to: list[str],
    cc: list[str],
    subject: str,
    body_text: str | None,
    body_html: str | None,
    message_id: str,
    date: datetime,
    reply_to: list[str] | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[Attachment] | None = None,
) -> bytes:
    """Build the RFC 5322 bytes (CRLF line endings) of an outgoing message; Bcc is never written.

    :param from_address, from_name, to, cc, reply_to: addr-specs and the sender's display name.
    :param subject, body_text, body_html: text/html become multipart/alternative when both.
    :param message_id, date, in_reply_to, references: msg-ids with brackets; naive date = UTC.
    :param headers: extra headers; names this function writes itself (From, Bcc, Content-*,
        ...) are ignored. ``attachments`` make the message multipart/mixed.
    :returns: the message bytes; raw UTF-8 (SMTPUTF8) headers when an address is not ASCII.
    """
    date = date if date.tzinfo is not None else date.replace(tzinfo=UTC)
    addresses = [from_address, *to, *cc, *(reply_to or [])]
    utf8 = not all(addr.isascii() for addr in addresses)
    if not attachments and not utf8:
        return _build_simple(
            from_address,
            from_name,
            to,
            cc,
            subject,
            body_text,
            body_html,
            message_id,
            date,
            reply_to,
            in_reply_to,
            references,
            headers,
        )
    msg = EmailMessage(policy=_SMTPUTF8_POLICY if utf8 else _SMTP_POLICY)
    msg["From"] = _address(from_address, from_name)
    if to:
        msg["To"] = [_address(addr) for addr in to]
    if cc:
        msg["Cc"] = [_address(addr) for addr in cc]
    msg["Subject"] = " ".join(subject.splitlines())  # a newline would raise
    msg["Date"] = date if date.tzinfo is not None else date.replace(tzinfo=UTC)
    msg["Message-ID"] = message_id
    if reply_to:
        msg["Reply-To"] = [_address(addr) for addr in reply_to]
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        key = name.lower()
        if not is_managed_header(key):
            msg[name] = value
    msg["MIME-Version"] = "1.0"  # set_content would add it too, but not for empty bodies
    if body_text is not None:
        msg.set_content(body_text)
    if body_html is not None:
        if body_text is not None:
            msg.add_alternative(body_html, subtype="html")
        else:
            msg.set_content(body_html, subtype="html")
    for att in attachments or []:
        ctype = att.content_type.lower()
        ctype = ctype if _MIME_TYPE.fullmatch(ctype) else "application/octet-stream"
        cid = f"<{att.content_id}>" if att.content_id else None
        disposition = "inline" if att.inline else "attachment"
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(
            att.content, maintype, subtype, filename=att.filename, cid=cid, disposition=disposition
        )
    return msg.as_bytes()


def new_message_id(domain: str) -> str:
    """A fresh Message-ID.

    :param domain: the right-hand side, e.g. the sending domain.
    :returns: ``<20 random lowercase alphanumerics@domain>``.
    """
    local = _token(20)
    return f"<{local}@{domain}>"


def is_managed_header(name: str) -> bool:
    """True for a header the sandbox sets itself (From, Message-ID, Content-*, ...)."""
    key = name.lower()
    return key in MANAGED_HEADERS or key.startswith("content-")


def _token(length: int) -> str:
    """``length`` random lowercase base32 characters (5 random bits each)."""
    return base64.b32encode(os.urandom(length)).decode().lower()[:length]


def _header(name: str, value: str) -> bytes:
    """One header line; non-ASCII (or very long) values become RFC 2047 encoded words."""
    if value.isascii() and _PRINTABLE.fullmatch(value) and len(value) <= 900:
        return f"{name}: {value}".encode("ascii")
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode("ascii")


def _mailbox(address: str, name: str | None) -> str:
    if not name:
        return address
    if name.isascii() and _ATOM_PHRASE.fullmatch(name):
        return f"{name} <{address}>"
    if name.isascii() and _PRINTABLE.fullmatch(name):
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{address}>'
    return f"{Header(name, 'utf-8').encode()} <{address}>"


def _text_part(body: str, subtype: str) -> bytes:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    raw = text.encode("utf-8")
    if text.isascii() and all(len(line) <= 998 for line in text.split("\n")):
        encoding, payload = "7bit", raw
    else:
        encoding, payload = "quoted-printable", quopri.encodestring(raw)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode() + payload.replace(b"\n", b"\r\n")


def _build_simple(
    from_address: str,
    from_name: str | None,
    to: list[str],
    cc: list[str],
    subject: str,
    body_text: str | None,
    body_html: str | None,
    message_id: str,
    date: datetime,
    reply_to: list[str] | None,
    in_reply_to: str | None,
    references: list[str] | None,
    headers: dict[str, str] | None,
) -> bytes:
    lines = [_header("From", _mailbox(from_address, from_name))]
    if to:
        lines.append(_header("To", ", ".join(to)))
    if cc:
        lines.append(_header("Cc", ", ".join(cc)))
    lines.append(_header("Subject", " ".join(subject.splitlines())))
    lines.append(_header("Date", format_datetime(date)))
    lines.append(_header("Message-ID", message_id))
    if reply_to:
        lines.append(_header("Reply-To", ", ".join(reply_to)))
    if in_reply_to:
        lines.append(_header("In-Reply-To", in_reply_to))
    if references:
        lines.append(b"References: " + "\r\n ".join(references).encode("ascii"))
    for name, value in (headers or {}).items():
        key = name.lower()
        if not is_managed_header(key):
            lines.append(_header(name, value))
    lines.append(b"MIME-Version: 1.0")
    head = b"\r\n".join(lines) + b"\r\n"
    if body_text is not None and body_html is not None:
        boundary = "=_" + _token(24)
        return (
            head
            + f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()
            + f"--{boundary}\r\n".encode()
            + _text_part(body_text, "plain")
            + f"\r\n--{boundary}\r\n".encode()
            + _text_part(body_html, "html")
            + f"\r\n--{boundary}--\r\n".encode()
        )
    if body_html is not None:
        return head + _text_part(body_html, "html")
    return head + _text_part(body_text or "", "plain")

"""Checks of the fields of a message to send (API sends, replies, injected mail).

Each returns the field's value in the form delivery uses, or raises InvalidRequest naming
the field.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from typing import Any

from mailbot_sandbox.core import fields as validation
from mailbot_sandbox.errors import InvalidRequest
from mailbot_sandbox.mail.compose import is_managed_header
from mailbot_sandbox.mail.message import Attachment

_HEADER_NAME = re.compile(r"^[!-9;-~]{1,76}$")


def subject(value: Any) -> str:
    """The subject; absent means empty. No CR/LF: it becomes a header."""
    if value is None:
        return ""
    return validation.string(value, "subject", max_length=998, allow_empty=True)


def text(value: Any, field: str) -> str | None:
    """A body (``body_text`` or ``body_html``), or None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(
            f"{field} must be a string, got {validation.type_name(value)}", field=field
        )
    return value


def headers(value: Any) -> dict[str, str]:
    """Custom headers: valid names, none the sandbox sets itself, values without CR/LF."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest("headers must be an object of header names to values", field="headers")
    checked: dict[str, str] = {}
    for name, header_value in value.items():
        if not _HEADER_NAME.match(name):
            raise InvalidRequest(
                f"headers: {validation.short_repr(name)} is not a valid header name",
                field="headers",
            )
        if is_managed_header(name):
            raise InvalidRequest(
                f"headers: {name} is set by the sandbox; use the message fields instead",
                field="headers",
            )
        checked[name] = validation.string(
            header_value, f"headers.{name}", max_length=998, allow_empty=True
        )
    return checked


def attachments(value: Any) -> list[Attachment]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest("attachments must be a list", field="attachments")
    found = []
    for index, item in enumerate(value):
        where = f"attachments[{index}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"{where} must be an object", field=where)
        validation.check_fields(
            item, ("filename", "content_type", "content"), required=("filename", "content")
        )
        filename = validation.string(item["filename"], f"{where}.filename")
        guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        content_type = validation.string(
            item.get("content_type") or guessed, f"{where}.content_type", max_length=127
        ).lower()
        if "/" not in content_type:
            raise InvalidRequest(f"{where}.content_type must look like type/subtype", field=where)
        found.append(
            Attachment(
                filename=filename,
                content_type=content_type,
                content=base64_bytes(item["content"], f"{where}.content"),
            )
        )
    return found


def base64_bytes(value: Any, field: str) -> bytes:
    text = validation.string(value, field, max_length=10**9, allow_empty=True)
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{field} is not valid base64", field=field) from None

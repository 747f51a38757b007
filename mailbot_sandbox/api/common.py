"""What every view needs: the services, the caller, and the two envelopes."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, current_app, g, jsonify, request

from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.services import Services


def services() -> Services:
    """This app's domain layer."""
    return current_app.extensions["mailbot"]


def authenticate() -> None:
    """``before_request`` hook of the authenticated blueprints."""
    g.account = services().accounts.authenticate(request.headers.get("Authorization"))


def account() -> Account:
    """The account of the request's API key."""
    return g.account


def single(data: Any, status: int = 200, **extra: Any) -> Response:
    """``{"data": ...}`` (plus any top-level ``extra``)."""
    response = jsonify({"data": data, **extra})
    response.status_code = status
    return response


def listing(items: list[Any], total: int, page: int, limit: int) -> Response:
    """``{"data": [...], "meta": {...}}``; the docs name ``per_page`` what the SDK calls
    ``limit``, so both are there."""
    return jsonify(
        {"data": items, "meta": {"total": total, "page": page, "limit": limit, "per_page": limit}}
    )


def content_disposition(kind: str, filename: str) -> str:
    """A ``Content-Disposition`` value naming ``filename`` safely, whatever a mail called it.

    Only the last path component is kept (``../../etc/passwd`` is ``passwd``); quotes and
    control characters go. A header is Latin-1 on the wire, so a name with other characters
    travels as RFC 6266's ``filename*`` (UTF-8, percent-encoded) beside an ASCII fallback.
    """
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"').strip() or "download"
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    if ascii_name == name:
        return f'{kind}; filename="{name}"'
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"

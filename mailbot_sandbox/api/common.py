"""What every view needs: the caller, the parsed body, paging, and the two envelopes."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, g, jsonify, request

from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.core.services import Services
from mailbot_sandbox.errors import InvalidRequest

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def services() -> Services:
    return current_app.extensions["mailbot"]


def authenticate() -> None:
    """``before_request`` hook of the authenticated blueprints."""
    g.account = services().accounts.authenticate(request.headers.get("Authorization"))


def account() -> Account:
    return g.account


def json_body() -> dict[str, Any]:
    """The request's JSON object; an empty body is ``{}`` (the SDK posts none)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if request.mimetype != "application/json":
        raise InvalidRequest(
            f"Content-Type must be application/json, got {request.mimetype or 'none'!r}"
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def arg(name: str) -> str | None:
    """A query parameter; empty means absent (the SDK sends ``?inbox_id=`` for None)."""
    value = request.args.get(name)
    return value if value not in (None, "") else None


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = arg(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number, got {raw!r}", field=name) from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be from {low} to {high}, got {value}", field=name)
    return value


def page_args() -> tuple[int, int]:
    """``(page, limit)``: 1-based page, limit 1..100 (default 20)."""
    return int_arg("page", 1, 1, 1_000_000), int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def single(data: Any, status: int = 200, **extra: Any) -> Response:
    response = jsonify({"data": data, **extra})
    response.status_code = status
    return response


def listing(items: list[Any], total: int, page: int, limit: int) -> Response:
    return jsonify(
        {"data": items, "meta": {"total": total, "page": page, "limit": limit, "per_page": limit}}
    )

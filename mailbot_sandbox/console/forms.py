"""What the console's views share: reading page numbers and form values, and reporting the
outcome of an action back on the page it came from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from flask import flash, request

from mailbot_sandbox.errors import ApiError, InvalidRequest

MAX_PAGE = 100_000


def page_number(name: str = "page") -> int:
    """``?page=`` (or the parameter ``name``) as a number from 1, 1 when absent.

    Raises:
        InvalidRequest: the value is not a whole number in range.
    """
    raw = request.args.get(name) or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidRequest(f"{name} must be a whole number 1-{MAX_PAGE}, got {raw!r}", field=name)
    return int(raw)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only, never another host."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@contextmanager
def reported(action: str) -> Iterator[None]:
    """Run an action; a refusal (inbox disabled, limit reached, ...) is shown on the next page
    as a message that names it, instead of a page of its own."""
    try:
        yield
    except ApiError as exc:
        flash(f"Could not {action}: {exc.message}", "error")

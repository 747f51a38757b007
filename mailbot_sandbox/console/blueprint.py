"""The console's blueprint: its templates and static files, the checks before every view,
the headers after it, and errors as pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template

from mailbot_sandbox.api.errors import http_error
from mailbot_sandbox.console import access
from mailbot_sandbox.errors import ApiError

# Our own pages: scripts and styles only from our files, nothing inline, no plugins; frames
# only of our own message bodies (which send a stricter policy of their own).
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

bp = Blueprint(
    "console",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/console/static",
)


@bp.before_request
def _before() -> None:
    access.load_viewer()
    access.check_csrf()


@bp.after_request
def _secure(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(ApiError)
def _error(exc: ApiError) -> tuple[str, int]:
    """An error as a page that says what went wrong, with the API's status for it."""
    error = http_error(exc)
    return render_template("error.html", error=error), error.status


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"csrf_token": access.csrf_token, "csrf_field": access.CSRF_FIELD}

"""The Flask application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from mailbot_sandbox.api.errors import HTTP_CODES, error_response, http_error
from mailbot_sandbox.config import Config, load_config
from mailbot_sandbox.core.services import Services
from mailbot_sandbox.errors import ApiError

log = logging.getLogger("mailbot_sandbox")


def create_app(
    config: Config | Mapping[str, Any] | None = None, services: Services | None = None
) -> Flask:
    """Build the app.

    Args:
        config: a :class:`Config`, or a mapping of overrides on top of defaults and
            ``MAILBOT_*`` variables.
        services: share an existing domain layer (the :class:`~mailbot_sandbox.Sandbox` does,
            so the SMTP side sees the same store); built from ``config`` when omitted.
    """
    if not isinstance(config, Config):
        config = load_config(config)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    # Room for base64 attachments (4/3 of the raw size) plus the JSON around them.
    app.config["MAX_CONTENT_LENGTH"] = config.max_message_size * 4 // 3 + 1024 * 1024
    app.extensions["mailbot"] = services or Services(config)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return http_error(exc).response()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = {
            404: f"no route {request.method} {request.path}; the routes are listed at "
            "/v1/openapi.json",
            405: "method not allowed on this route",
            413: f"request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes",
        }.get(status, exc.description or exc.name)
        response = error_response(status, HTTP_CODES.get(status, "error"), message)
        for name, value in exc.get_headers():
            if name.lower() == "allow":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error")
        return error_response(500, "internal_error", f"internal error: {type(exc).__name__}")

    from mailbot_sandbox.api import register

    register(app)
    return app

"""Unauthenticated routes: liveness, readiness, metrics, version, the OpenAPI description."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify

from mailbot_sandbox import __version__
from mailbot_sandbox.api.common import authenticate
from mailbot_sandbox.api.errors import error_response
from mailbot_sandbox.api.objects import Health, Info, Ready
from mailbot_sandbox.api.routes import route
from mailbot_sandbox.core.maintenance import database_state, store_totals
from mailbot_sandbox.core.services import Services
from mailbot_sandbox.metrics import CONTENT_TYPE

bp = Blueprint("meta", __name__)


@route(bp, "GET", "/health", "Liveness", response=Health, envelope="bare", authenticated=False)
def health() -> Response:
    """Liveness: the process answers."""
    return jsonify({"status": "ok"})


@route(
    bp,
    "GET",
    "/ready",
    "Readiness: database, SMTP, not stopping (503 when not)",
    response=Ready,
    envelope="bare",
    errors=(503,),
    authenticated=False,
)
def ready() -> Response:
    """Readiness: the database answers and, under a Sandbox, SMTP listens and no stop began.

    503 with the error envelope (``not_ready``, the failing checks in ``details``) otherwise.
    """
    services: Services = current_app.extensions["mailbot"]
    checks = {"database": database_state(services.store)}
    probe: Callable[[], dict[str, str]] | None = current_app.extensions.get("mailbot.readiness")
    if probe is not None:
        checks.update(probe())
    failing = {name: state for name, state in checks.items() if state != "ok"}
    if failing:
        summary = ", ".join(f"{name} {state}" for name, state in failing.items())
        return error_response(503, "not_ready", f"not ready: {summary}", {"checks": checks})
    return jsonify({"status": "ready", "checks": checks})


@route(
    bp,
    "GET",
    "/metrics",
    "Prometheus metrics (text exposition format); with configured API keys, one is required",
    envelope="bytes",
    content_type="text/plain",
    errors=(401,),
    authenticated=False,
)
def prometheus_metrics() -> Response:
    """Counters in the Prometheus text format, plus what the store holds right now.

    Open by default, as the rest of a permissive sandbox is; once API keys are configured
    (strict mode) a scrape must carry one of them, like every other route that tells about
    the sandbox's contents.
    """
    if current_app.extensions["mailbot"].config.strict_keys:
        authenticate()
    totals = store_totals(current_app.extensions["mailbot"].store)
    gauges = {
        "stored_messages": ("Messages held in the store", totals["messages"]),
        "inboxes": ("Inboxes of every account", totals["inboxes"]),
    }
    body = current_app.extensions["mailbot"].metrics.render(gauges)
    return Response(body, content_type=CONTENT_TYPE)


@route(
    bp,
    "GET",
    "/v1/info",
    "Server name and version",
    response=Info,
    envelope="bare",
    authenticated=False,
)
def info() -> Response:
    """Name and version of this server."""
    return jsonify(
        {
            "data": {
                "name": "mailbot-sandbox",
                "version": __version__,
                "api_version": "v1",
                "sandbox": True,
            }
        }
    )


@route(bp, "GET", "/v1/openapi.json", "This document", envelope="bare", authenticated=False)
def openapi() -> Response:
    """The OpenAPI 3.1 description of every route."""
    from mailbot_sandbox.api.openapi import build_spec

    return jsonify(build_spec(current_app))

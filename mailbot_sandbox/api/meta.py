"""Unauthenticated routes: liveness, version, and the OpenAPI description."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from mailbot_sandbox import __version__

bp = Blueprint("meta", __name__)


@bp.get("/health")
def health() -> Response:
    """Liveness: the process answers."""
    return jsonify({"status": "ok"})


@bp.get("/v1/info")
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


@bp.get("/v1/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of every route."""
    from mailbot_sandbox.openapi import build_spec

    return jsonify(build_spec(current_app))

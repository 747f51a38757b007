"""HTTP API: one blueprint per resource, all authenticated ones under ``/v1``."""

from __future__ import annotations

from flask import Blueprint, Flask

from mailbot_sandbox.api import (
    audit,
    compliance,
    control,
    domains,
    engagement,
    inboxes,
    messages,
    meta,
    streams,
    threads,
    tls,
    webhooks,
)
from mailbot_sandbox.api.common import authenticate


def register(app: Flask) -> None:
    """Attach every blueprint to ``app``."""
    app.register_blueprint(meta.bp)
    v1 = Blueprint("v1", __name__, url_prefix="/v1")
    v1.before_request(authenticate)
    for module in (
        inboxes,
        domains,
        messages,
        threads,
        compliance,
        webhooks,
        audit,
        engagement,
        streams,
    ):
        v1.register_blueprint(module.bp)
    app.register_blueprint(v1)
    app.register_blueprint(control.bp)
    app.register_blueprint(engagement.tracking)
    app.register_blueprint(tls.bp)

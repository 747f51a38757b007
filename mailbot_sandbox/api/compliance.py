"""``/v1/usage`` and ``/v1/compliance``: an account's sends against its limits, and whether
a domain or an inbox is ready to send."""

from __future__ import annotations

from flask import Blueprint, Response

from mailbot_sandbox.api.common import account, services, single
from mailbot_sandbox.api.objects import (
    ComplianceCheck,
    Readiness,
    Usage,
    compliance_json,
    readiness_json,
    usage_json,
)
from mailbot_sandbox.api.queries import ComplianceQuery
from mailbot_sandbox.api.routes import route

bp = Blueprint("compliance", __name__)


@route(bp, "GET", "/usage", "Sends today per inbox against its limit, and totals", response=Usage)
def get_usage() -> Response:
    return single(usage_json(services().compliance.usage(account())))


@route(
    bp,
    "GET",
    "/compliance/check",
    "SPF, DKIM and DMARC of a domain, and its readiness to send",
    query=ComplianceQuery,
    response=ComplianceCheck,
)
def check_domain(query: ComplianceQuery) -> Response:
    return single(compliance_json(services().compliance.check(account(), query.domain)))


@route(
    bp,
    "GET",
    "/compliance/readiness/<inbox_id>",
    "Whether an inbox may send: its domain's check and its own status",
    response=Readiness,
)
def inbox_readiness(inbox_id: str) -> Response:
    address, report = services().compliance.readiness(account(), inbox_id)
    return single(readiness_json(inbox_id, address, report))

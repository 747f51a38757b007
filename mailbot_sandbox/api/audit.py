"""``/v1/audit-log`` (alias ``/v1/audit``): every change the account made, newest first."""

from __future__ import annotations

from flask import Blueprint, Response

from mailbot_sandbox.api.common import account, listing, services
from mailbot_sandbox.api.objects import AuditEntry, audit_json
from mailbot_sandbox.api.queries import AuditQuery
from mailbot_sandbox.api.routes import route

bp = Blueprint("audit", __name__)


def _page(query: AuditQuery) -> Response:
    rows, total = services().audit.list_page(
        account(),
        page=query.page,
        limit=query.limit,
        action=query.action,
        target_type=query.target_type,
        inbox_id=query.inbox_id,
    )
    return listing([audit_json(row) for row in rows], total, query.page, query.limit)


@route(
    bp,
    "GET",
    "/audit-log",
    "List the account's audit log",
    query=AuditQuery,
    response=AuditEntry,
    envelope="list",
)
def list_audit_log(query: AuditQuery) -> Response:
    return _page(query)


@route(
    bp,
    "GET",
    "/audit",
    "List the account's audit log (alias of /v1/audit-log)",
    query=AuditQuery,
    response=AuditEntry,
    envelope="list",
)
def list_audit(query: AuditQuery) -> Response:
    return _page(query)

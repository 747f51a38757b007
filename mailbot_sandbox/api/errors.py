"""Errors in HTTP terms: the one table from an exception or a policy reason to a status, an
error code and headers, and the one error body, ``{"error": {"code", "message", "details"?}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from flask import Response, jsonify

from mailbot_sandbox.core.policy import (
    AmbiguousRecipient,
    ComplianceBlocked,
    DailyLimit,
    DomainNotVerified,
    InboxInactive,
    InjectedFault,
    NoRecipientLeft,
    PermissionDenied,
    Reason,
    Refused,
    SenderMismatch,
    TooLarge,
    TooManyRecipients,
    UnknownRecipient,
)
from mailbot_sandbox.errors import (
    ApiError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthorized,
    WaitTimeout,
)

# The status of each error class; a subclass takes its nearest listed ancestor's.
ERROR_STATUS: dict[type[ApiError], int] = {
    ApiError: 400,
    InvalidRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    WaitTimeout: 408,
    Conflict: 409,
    RateLimited: 429,
}

# Status and error code of each policy reason.
REASON_STATUS: dict[type[Reason], tuple[int, str]] = {
    PermissionDenied: (403, "permission_denied"),
    InboxInactive: (403, "inbox_{status}"),  # inbox_disabled, inbox_suspended
    DailyLimit: (429, "daily_send_limit_exceeded"),
    TooLarge: (413, "payload_too_large"),
    TooManyRecipients: (400, "invalid_request"),
    DomainNotVerified: (422, "domain_not_verified"),
    ComplianceBlocked: (422, "compliance_blocked"),
    # Refused at delivery (SMTP, or a bounce for an API send), never by a request itself.
    UnknownRecipient: (400, "invalid_request"),
    AmbiguousRecipient: (400, "invalid_request"),
    SenderMismatch: (403, "permission_denied"),  # SMTP submission only
    NoRecipientLeft: (400, "invalid_request"),
    InjectedFault: (503, "service_unavailable"),  # the status the fault names, see _refusal
}

# The statuses a fault injected on an inbox may answer its sends with (the SDK retries 5xx),
# and the error code of each.
FaultStatus = Literal[400, 403, 408, 409, 422, 429, 500, 502, 503, 504]
FAULT_CODES: dict[int, str] = {
    400: "invalid_request",
    403: "permission_denied",
    408: "request_timeout",
    409: "conflict",
    422: "compliance_blocked",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
FAULT_STATUSES = tuple(FAULT_CODES)

# Werkzeug's own errors (unknown route, wrong method, body too large, ...).
HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    408: "wait_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "invalid_request",
    429: "rate_limited",
    503: "server_busy",
}


@dataclass(frozen=True)
class HttpError:
    """An error as the API answers it."""

    status: int
    code: str
    message: str
    details: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        """The error body with its status and headers."""
        response = error_response(self.status, self.code, self.message, self.details)
        response.headers.update(self.headers)
        return response


def http_error(exc: ApiError) -> HttpError:
    """``exc`` in HTTP terms: status, error code, details and headers."""
    if isinstance(exc, Refused):
        return _refusal(exc.reason, exc.message)
    status = next(ERROR_STATUS[k] for k in type(exc).__mro__ if k in ERROR_STATUS)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else {}
    return HttpError(status, exc.code, exc.message, exc.details, headers)


def _refusal(reason: Reason, message: str) -> HttpError:
    status, code = REASON_STATUS[type(reason)]
    details: dict[str, Any] | None = None
    headers: dict[str, str] = {}
    match reason:
        case InboxInactive(status=inbox_status):
            code = code.format(status=inbox_status)
        case DailyLimit(limit=limit, sends_today=sends_today, retry_after=retry_after):
            details = {"daily_send_limit": limit, "sends_today": sends_today}
            headers["Retry-After"] = str(retry_after)
        case DomainNotVerified(domain=domain) | ComplianceBlocked(domain=domain):
            details = {"domain": domain}
        case InjectedFault(status=fault_status, retry_after=retry_after, remaining=remaining):
            status, code = fault_status, FAULT_CODES[fault_status]
            details = {"injected_fault": True, "remaining": remaining}
            if status in (429, 503):
                headers["Retry-After"] = str(retry_after)
    return HttpError(status, code, message, details, headers)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one error body: ``{"error": {"code", "message", "details"?}}``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    """The error body as a response with ``status``."""
    response = jsonify(error_body(code, message, details))
    response.status_code = status
    return response


def server_busy() -> HttpError:
    """The answer when every request thread is busy and the queue of waiting requests is
    full: the server writes it itself, without the app, so it costs no thread."""
    return HttpError(
        503,
        "server_busy",
        "the sandbox is serving as many requests as it can; retry after a second",
        headers={"Retry-After": "1"},
    )

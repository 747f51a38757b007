"""One exception family for everything the sandbox refuses.

Each :class:`ApiError` carries the HTTP ``status`` and the machine ``code`` of the contract's
error table; the app's single error handler turns it into ``{"error": {...}}``.
"""

from __future__ import annotations

from typing import Any


class SandboxError(Exception):
    """Base of every error the sandbox raises on purpose."""


class ConfigError(SandboxError):
    """A start-up setting is wrong; the message names it."""


class AmbiguousAddress(SandboxError):
    """Several accounts hold inboxes at one custom-domain address and nothing says which."""

    def __init__(self, address: str, holders: int) -> None:
        super().__init__(
            f"<{address}> is held by {holders} sandbox accounts; send from an inbox of the "
            "intended account (API or SMTP AUTH) or use a shared-domain address"
        )
        self.address = address


class ApiError(SandboxError):
    """An error with a place in the API's error envelope."""

    status = 400
    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details
        self.headers = headers or {}


class InvalidRequest(ApiError):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        details = kwargs.pop("details", None) or ({"field": field} if field else None)
        super().__init__(message, details=details, **kwargs)


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    """403; ``code`` is ``permission_denied``, ``inbox_disabled`` or ``inbox_suspended``."""

    status = 403
    code = "permission_denied"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"


class WaitTimeout(ApiError):
    status = 408
    code = "wait_timeout"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class ComplianceBlocked(ApiError):
    """422; ``code`` is ``domain_not_verified`` or ``compliance_blocked``."""

    status = 422
    code = "compliance_blocked"


class RateLimited(ApiError):
    """429 with a ``Retry-After`` header."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any) -> None:
        headers = {"Retry-After": str(max(1, int(retry_after)))}
        super().__init__(message, headers=headers, **kwargs)
        self.retry_after = max(1, int(retry_after))

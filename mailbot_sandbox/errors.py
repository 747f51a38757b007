"""One exception family for everything the sandbox refuses.

Each :class:`ApiError` carries a machine ``code`` and a message, and says nothing about a
protocol: the API maps an error to its HTTP status (``api/errors.py``). A rule's refusal is
:class:`mailbot_sandbox.core.policy.Refused`, an :class:`ApiError` that carries the rule's
reason, which the API and the SMTP handler each put in their own terms.
"""

from __future__ import annotations

from typing import Any


class SandboxError(Exception):
    """Base of every error the sandbox raises on purpose."""


class ConfigError(SandboxError):
    """A start-up setting is wrong; the message names it."""


class ApiError(SandboxError):
    """An error with a place in the API's error envelope."""

    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class InvalidRequest(ApiError):
    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        details = kwargs.pop("details", None) or ({"field": field} if field else None)
        super().__init__(message, details=details, **kwargs)


class Unauthorized(ApiError):
    code = "unauthorized"


class Forbidden(ApiError):
    """The caller is known but may not do this (a console form without its CSRF token)."""

    code = "forbidden"


class NotFound(ApiError):
    code = "not_found"


class WaitTimeout(ApiError):
    code = "wait_timeout"


class Conflict(ApiError):
    code = "conflict"


class RateLimited(ApiError):
    """Too many requests; ``retry_after`` is in seconds (at least 1)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))

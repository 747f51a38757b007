"""Route declarations: each view says its method, path, shapes, success status and errors.

One declaration serves three readers: Flask (the URL rule), the request parsing done before
the view runs (query string and body into their shapes), and the OpenAPI document
(:mod:`~mailbot_sandbox.api.openapi` reads :attr:`Route` off every view function).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from flask import Blueprint, Response, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from mailbot_sandbox.api.checks import Shape, invalid_request
from mailbot_sandbox.errors import InvalidRequest

# one: {"data": X}; list: {"data": [X], "meta"}; all: {"data": [X]}; bare: X itself;
# bytes: not JSON (content_type says what).
Envelope = Literal["one", "list", "all", "bare", "bytes"]
_M = TypeVar("_M", bound=Shape)

# The statuses any route may answer besides its own: a bad query string or body, a body over
# the size limit, and for /v1 and /sandbox/v1 a missing or unknown key.
# 503: every request thread busy and the queue full (runtime/connections.py).
COMMON_ERRORS = (400, 503)
BODY_ERRORS = (413,)
AUTH_ERRORS = (401,)


@dataclass(frozen=True)
class Route:
    """What one route takes and answers."""

    method: str
    summary: str
    body: type[Shape] | None
    query: type[Shape] | None
    response: type[BaseModel] | None
    envelope: Envelope
    status: int
    errors: tuple[int, ...]
    content_type: str
    authenticated: bool

    def statuses(self, path: str) -> tuple[int, ...]:
        """Every error status this route can answer, sorted."""
        found = set(COMMON_ERRORS) | set(self.errors)
        if self.body is not None or self.method in ("POST", "PUT", "PATCH"):
            found |= set(BODY_ERRORS)
        if self.authenticated:
            found |= set(AUTH_ERRORS)
        if "{" in path:
            found.add(404)
        return tuple(sorted(found))


def route(
    bp: Blueprint,
    method: str,
    rule: str,
    summary: str,
    *,
    body: type[Shape] | None = None,
    query: type[Shape] | None = None,
    response: type[BaseModel] | None = None,
    envelope: Envelope = "one",
    status: int = 200,
    errors: tuple[int, ...] = (),
    content_type: str = "application/json",
    authenticated: bool = True,
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register a view on ``bp`` with its declaration.

    The view receives the path variables, plus ``body`` and ``query`` (parsed shapes) when
    the route declares them. A query parameter the route does not declare is a 400, as an
    unknown body field is.
    """
    declared = Route(
        method,
        summary,
        body,
        query,
        response,
        envelope,
        status,
        errors,
        content_type,
        authenticated,
    )

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def endpoint(**path: Any) -> Response:
            parsed_query = parse_query(query)
            if query is not None:
                path["query"] = parsed_query
            if body is not None:
                path["body"] = parse_body(body)
            elif method != "GET":
                json_body()  # a body is still JSON or nothing
            return view(**path)

        endpoint.route = declared  # type: ignore[attr-defined]
        bp.add_url_rule(rule, view_func=endpoint, methods=[method])
        return endpoint

    return decorate


def declaration(view: Callable[..., Any]) -> Route | None:
    """The :class:`Route` of a view function, if it was registered through :func:`route`."""
    return getattr(view, "route", None)


def json_body() -> dict[str, Any]:
    """The request's JSON object; an empty body is ``{}`` (the SDK posts none)."""
    raw = request.get_data(cache=True)
    _refuse_cut_off(raw)
    if not raw.strip():
        return {}
    if request.mimetype != "application/json":
        raise InvalidRequest(
            f"Content-Type must be application/json, got {request.mimetype or 'none'!r}"
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:  # the parser recurses once per level of nesting
        raise InvalidRequest("request body is nested too deeply to be a request") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def _refuse_cut_off(raw: bytes) -> None:
    """Werkzeug stops reading a body sent without ``Content-Length`` (chunked) at
    ``MAX_CONTENT_LENGTH`` and hands over what it read as if it were all: when more
    follows, the body is too large, not broken JSON.

    Raises:
        RequestEntityTooLarge: the body goes on past the limit.
    """
    limit = request.max_content_length
    cut_off = request.content_length is None and limit is not None and len(raw) >= limit
    if cut_off and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


def parse_body(shape: type[_M]) -> _M:
    """The body as ``shape``; 400 naming the first field that does not fit."""
    try:
        return shape.model_validate(json_body())
    except ValidationError as exc:
        raise invalid_request(exc, shape, "field") from None


def parse_query(shape: type[_M] | None) -> _M | None:
    """The query string as ``shape``. Empty values mean absent: the SDK sends
    ``?inbox_id=`` for None. A parameter given twice is a 400: which one was meant is a
    guess, and every parameter the document describes takes a single value."""
    for name in request.args:
        if len(request.args.getlist(name)) > 1:
            raise InvalidRequest(
                f"query parameter {name!r} is given more than once; send it once", field=name
            )
    given = {name: value for name, value in request.args.items() if value != ""}
    if shape is None:
        if given:
            name = next(iter(given))
            raise InvalidRequest(
                f"unknown query parameter {name!r}; this route takes none", field=name
            )
        return None
    try:
        return shape.model_validate(given)
    except ValidationError as exc:
        raise invalid_request(exc, shape, "query parameter") from None

"""The OpenAPI 3.1 description served at ``/v1/openapi.json``, generated from the routes.

Every route is registered through :func:`~mailbot_sandbox.api.routes.route`, whose declaration
(shapes, success status, error statuses) is all this module reads: the document cannot
describe a route the app does not serve, nor a shape other than the one the view parses and
answers with.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from mailbot_sandbox import __version__
from mailbot_sandbox.api.objects import Error, Meta
from mailbot_sandbox.api.routes import Route, declaration

_S = dict[str, Any]
_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> _S:
    return {"$ref": _REF.format(model=model.__name__)}


def _success_schema(route: Route) -> _S:
    item = _ref(route.response) if route.response is not None else {"type": "object"}
    if route.envelope == "bare":
        return item
    data: _S = item
    required = ["data"]
    properties: _S = {}
    if route.envelope in ("list", "all"):
        data = {"type": "array", "items": item}
    properties["data"] = data
    if route.envelope == "list":
        properties["meta"] = _ref(Meta)
        required.append("meta")
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _responses(path: str, route: Route) -> _S:
    if route.envelope == "bytes" and route.response is not None:
        # A stream's response shape is that of each of its events (OpenAPI 3.1 reads the
        # schema of text/event-stream as one event's fields).
        content: _S = {route.content_type: {"schema": _ref(route.response)}}
    elif route.envelope == "bytes":
        content = {route.content_type: {"schema": {"type": "string"}}}
    else:
        content = {"application/json": {"schema": _success_schema(route)}}
    responses: _S = {
        str(route.status): {"description": HTTPStatus(route.status).phrase, "content": content}
    }
    for status in route.statuses(path):
        responses[str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": _ref(Error)}},
        }
    return responses


def _parameters(path: str, route: Route, schemas: _S) -> list[_S]:
    params: list[_S] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]
    if route.query is not None:
        query = schemas[route.query.__name__]
        for name, schema in query["properties"].items():
            required = name in query.get("required", ())
            parameter = {"name": name, "in": "query", "required": required, "schema": schema}
            if not required:  # an empty value means absent (the SDK sends ?inbox_id= for None)
                parameter["allowEmptyValue"] = True
            params.append(parameter)
    return params


def _operation(endpoint: str, path: str, route: Route, schemas: _S) -> _S:
    operation: _S = {
        "summary": route.summary,
        "operationId": endpoint.replace(".", "_"),
        "responses": _responses(path, route),
    }
    params = _parameters(path, route, schemas)
    if params:
        operation["parameters"] = params
    if route.body is not None:
        operation["requestBody"] = {
            "required": bool(
                schemas[route.body.__name__].get("required")
                or schemas[route.body.__name__].get("minProperties")
            ),
            "content": {"application/json": {"schema": _ref(route.body)}},
        }
    if route.authenticated:
        operation["security"] = [{"bearer": []}]
    return operation


def _schemas(routes: list[Route]) -> _S:
    """Every shape the routes name, with what they refer to, as components."""
    models: list[type[BaseModel]] = [Error, Meta]
    for route in routes:
        models.extend(m for m in (route.body, route.query, route.response) if m is not None)
    unique = list(dict.fromkeys(models))
    _, top = models_json_schema([(m, "validation") for m in unique], ref_template=_REF)
    defs: _S = top.get("$defs", {})
    return dict(sorted(defs.items()))


def build_spec(app: Flask) -> _S:
    """The whole OpenAPI document of ``app``'s routes."""
    found: list[tuple[str, str, Route]] = []
    for rule in app.url_map.iter_rules():
        route = declaration(app.view_functions[rule.endpoint])
        if route is None:  # Flask's own static route
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        found.append((rule.endpoint, path, route))
    schemas = _schemas([route for _, _, route in found])
    paths: dict[str, _S] = {}
    for endpoint, path, route in found:
        operation = _operation(endpoint, path, route, schemas)
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mailbot-sandbox",
            "version": __version__,
            "description": "The mailbot v1 API as served by mailbot-sandbox, plus its "
            "/sandbox/v1 control plane.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "mb_..."}
            },
        },
    }

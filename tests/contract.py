"""Every response the tests receive, checked against the server's own ``/v1/openapi.json``.

:class:`~tests.helpers.Api` hands each response to :func:`check_response`: its status must
be one the document lists for that route, and a JSON body must match the schema given for
that status. So the document is tested by every test, not only by the route list.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

_documents: dict[str, Contract] = {}


class Contract:
    """One OpenAPI document, with a validator per (route, status) made on first use."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._validators: dict[tuple[str, str, str], Draft202012Validator] = {}
        # Literal segments win over templates: .../messages/wait before .../{message_id}.
        self._paths = sorted(
            (
                (path.count("{"), re.compile(re.sub(r"{\w+}", "[^/]+", path) + "$"), path)
                for path in document["paths"]
            ),
            key=lambda found: found[0],
        )

    def route_of(self, path: str) -> str | None:
        """The document's path template ``path`` falls under, or None."""
        for _, pattern, template in self._paths:
            if pattern.match(path):
                return template
        return None

    def check(self, method: str, path: str, status: int, content_type: str, body: bytes) -> None:
        """Raise AssertionError unless the response is one the document describes."""
        template = self.route_of(path)
        if template is None or method.lower() not in self.document["paths"][template]:
            # Not a route: Werkzeug's own 404/405, which still use the one error body.
            assert status in (404, 405), f"{method} {path}: {status} for a route not described"
            self._validate(self._error_schema(), body, f"{method} {path} -> {status}")
            return
        operation = self.document["paths"][template][method.lower()]
        declared = operation["responses"].get(str(status))
        assert declared is not None, (
            f"{method} {template} answered {status}, which the document does not list "
            f"(it lists {', '.join(operation['responses'])})"
        )
        media = content_type.split(";")[0].strip()
        if media != "application/json":
            assert media in declared["content"] or "*/*" in declared["content"], (
                f"{method} {template} -> {status}: {media} is not a documented content type"
            )
            return
        schema = declared["content"]["application/json"]["schema"]
        key = (template, method, str(status))
        if key not in self._validators:
            self._validators[key] = self._validator(schema)
        self._check_body(self._validators[key], body, f"{method} {template} -> {status}")

    def _error_schema(self) -> dict[str, Any]:
        return {"$ref": "#/components/schemas/Error"}

    def _validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        # $refs point into the document's components: keep them at the schema's root.
        return Draft202012Validator({**schema, "components": self.document["components"]})

    def _validate(self, schema: dict[str, Any], body: bytes, where: str) -> None:
        self._check_body(self._validator(schema), body, where)

    @staticmethod
    def _check_body(validator: Draft202012Validator, body: bytes, where: str) -> None:
        data = json.loads(body)
        try:
            validator.validate(data)
        except ValidationError as exc:
            location = "/".join(str(part) for part in exc.absolute_path) or "(the body)"
            raise AssertionError(
                f"{where}: the body does not match /v1/openapi.json at {location}: {exc.message}"
            ) from None


def contract_of(base_url: str) -> Contract:
    """The document of the sandbox at ``base_url``, fetched once per test process."""
    if base_url not in _documents:
        document = requests.get(f"{base_url}/v1/openapi.json", timeout=10).json()
        _documents[base_url] = Contract(document)
    return _documents[base_url]


def check_response(base_url: str, response: requests.Response) -> None:
    """Fail unless ``response`` (from the sandbox at ``base_url``) is what the document says."""
    request = response.request
    path = (request.path_url or "/").split("?")[0]
    contract_of(base_url).check(
        str(request.method),
        path,
        response.status_code,
        response.headers.get("Content-Type", ""),
        response.content,
    )

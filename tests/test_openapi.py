"""The OpenAPI document describes exactly the routes the app serves, with the statuses and
shapes they answer (every response of the suite is also checked: see tests/contract.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from mailbot_sandbox import Sandbox
from mailbot_sandbox.api.app import create_app
from tests.contract import Contract
from tests.helpers import Api


def _served_routes() -> set[str]:
    app = create_app({"db": ":memory:"})
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add(f"{method} {path}")
    return routes


def test_every_served_route_is_described_and_nothing_else(sandbox: Sandbox) -> None:
    spec = requests.get(f"{sandbox.api_url}/openapi.json", timeout=5).json()
    described = {
        f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item
    }
    served = _served_routes()
    assert served - described == set(), "served but not described"
    assert described - served == set(), "described but not served"


def test_schema_references_resolve(sandbox: Sandbox) -> None:
    spec = requests.get(f"{sandbox.api_url}/openapi.json", timeout=5).json()
    text = str(spec)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in spec["components"]["schemas"], name


def _spec(sandbox: Sandbox) -> dict[str, Any]:
    return requests.get(f"{sandbox.api_url}/openapi.json", timeout=5).json()  # type: ignore[no-any-return]


def test_the_document_is_valid_openapi_3_1(sandbox: Sandbox) -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator

    errors = [error.message for error in OpenAPIV31SpecValidator(_spec(sandbox)).iter_errors()]
    assert errors == []


def test_every_schema_is_valid_json_schema_2020_12(sandbox: Sandbox) -> None:
    spec = _spec(sandbox)
    assert spec["openapi"].startswith("3.1")
    for name, schema in spec["components"]["schemas"].items():
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{name}: {exc.message}")


def test_success_statuses_are_declared_per_route(sandbox: Sandbox) -> None:
    paths = _spec(sandbox)["paths"]
    created = [
        ("/v1/inboxes", "post"),
        ("/v1/domains", "post"),
        ("/v1/inboxes/{inbox_id}/messages", "post"),
        ("/v1/messages/send", "post"),
        ("/v1/messages/{message_id}/reply", "post"),
        ("/sandbox/v1/inboxes/{inbox_id}/messages", "post"),
    ]
    for path, method in created:
        statuses = paths[path][method]["responses"]
        assert "201" in statuses and "200" not in statuses, (path, method)
    for path, method in [
        ("/v1/domains/{domain_id}/verify", "post"),
        ("/v1/inboxes/{inbox_id}/messages/search", "post"),
        ("/sandbox/v1/reset", "post"),
    ]:
        statuses = paths[path][method]["responses"]
        assert "200" in statuses and "201" not in statuses, (path, method)


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/v1/inboxes", "post", {"400", "401", "409", "413", "422"}),
        ("/v1/inboxes/{inbox_id}/messages", "post", {"400", "401", "403", "404", "413", "429"}),
        ("/v1/inboxes/{inbox_id}/messages/wait", "get", {"400", "401", "404", "408"}),
        ("/v1/inboxes/{inbox_id}/messages/search", "post", {"403", "404"}),
        ("/v1/domains/{domain_id}", "delete", {"404", "409"}),
        ("/health", "get", {"400"}),
    ],
)
def test_routes_list_the_errors_they_can_answer(
    sandbox: Sandbox, path: str, method: str, statuses: set[str]
) -> None:
    responses = _spec(sandbox)["paths"][path][method]["responses"]
    assert statuses <= set(responses)
    for status in statuses:
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}


def test_the_contract_check_fails_on_a_shape_the_document_does_not_describe(
    sandbox: Sandbox, api: Api
) -> None:
    contract = Contract(_spec(sandbox))
    inbox = api.create_inbox()
    path = f"/v1/inboxes/{inbox['id']}"
    good = json.dumps({"data": inbox}).encode()
    contract.check("GET", path, 200, "application/json", good)
    bad_bodies = [
        {"data": {**inbox, "colour": "blue"}},  # a key the model does not declare
        {"data": {k: v for k, v in inbox.items() if k != "address"}},  # a required key missing
        {"data": {**inbox, "daily_send_limit": "250"}},  # a wrong type
        {"data": {**inbox, "status": "sleeping"}},  # outside the enum
        {"inbox": inbox},  # no envelope
    ]
    for body in bad_bodies:
        with pytest.raises(AssertionError, match="does not match"):
            contract.check("GET", path, 200, "application/json", json.dumps(body).encode())
    with pytest.raises(AssertionError, match="does not list"):
        contract.check("GET", path, 201, "application/json", good)  # an undocumented status
    error = {"error": {"code": "not_found", "message": "no"}}
    contract.check("GET", path, 404, "application/json", json.dumps(error).encode())
    with pytest.raises(AssertionError, match="does not match"):
        contract.check("GET", path, 404, "application/json", b'{"error": "no"}')


def test_an_unknown_query_parameter_is_400_naming_it(api: Api) -> None:
    inbox = api.create_inbox()
    wait = api.get(
        f"/v1/inboxes/{inbox['id']}/messages/wait", params={"subject": "x", "timeout_ms": 0}
    )
    assert wait.status_code == 400
    error = wait.json()["error"]
    assert "'subject'" in error["message"] and "subject_contains" in error["message"]
    assert error["details"] == {"field": "subject"}
    plain = api.get(f"/v1/inboxes/{inbox['id']}", params={"expand": "all"})
    assert plain.status_code == 400 and "'expand'" in plain.json()["error"]["message"]
    # Empty still means absent: the SDK sends ?inbox_id= for None.
    assert api.get(f"/v1/inboxes/{inbox['id']}?expand=").status_code == 200


def test_an_empty_optional_query_parameter_means_absent_and_the_document_says_so(
    api: Api,
) -> None:
    # The SDK sends ?inbox_id= for None: a client reading the document may send it too.
    document = api.get("/v1/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", ()):
                if parameter["in"] == "query":
                    empty_allowed = parameter.get("allowEmptyValue", False)
                    where = f"{method.upper()} {path} ?{parameter['name']}"
                    assert empty_allowed != parameter["required"], where
    response = api.get("/v1/inboxes?page=&limit=&status=&domain=")
    assert response.status_code == 200, response.text
    assert response.json()["meta"] == {"total": 0, "page": 1, "limit": 20, "per_page": 20}
    required = api.get("/v1/compliance/check?domain=")
    assert required.status_code == 400 and "domain" in required.json()["error"]["message"]


def test_a_query_parameter_given_twice_is_400_naming_it(api: Api) -> None:
    # One value was taken and the other dropped in silence; the document allows one only.
    inbox = api.create_inbox()
    response = api.get("/v1/inboxes", params=[("status", "active"), ("status", "disabled")])
    assert response.status_code == 400, response.text
    assert "'status'" in response.json()["error"]["message"]
    assert response.json()["error"]["details"] == {"field": "status"}
    listed = api.get("/v1/inboxes", params={"status": "active"})
    assert [found["id"] for found in listed.json()["data"]] == [inbox["id"]]


def test_an_unknown_route_names_the_method_and_path(api: Api) -> None:
    response = api.post("/v1/no-such-route", json={})
    assert response.status_code == 404
    assert "POST /v1/no-such-route" in response.json()["error"]["message"]

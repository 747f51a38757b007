"""The OpenAPI document describes exactly the routes the app serves."""

from __future__ import annotations

import re

import requests

from mailbot_sandbox import Sandbox
from mailbot_sandbox.api.app import create_app


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

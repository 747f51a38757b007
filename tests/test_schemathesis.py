"""Schemathesis against ``/v1/openapi.json`` of a real sandbox: the document and the server agree.

Every operation gets generated requests (valid ones and, where the document rules data out,
invalid ones) sent over real HTTP with an account's Bearer key, and every check schemathesis has
runs on each response: no 5xx, the status is one the document lists, the body and headers match
the declared schema and content type, valid data is accepted and invalid data rejected. A failure
means the declarations in ``mailbot_sandbox/api/`` or the server are wrong, never the check.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from schemathesis import Case
from schemathesis.core.failures import FailureGroup

from mailbot_sandbox import Sandbox
from tests.helpers import fresh_key

pytestmark = pytest.mark.slow

# Bounded so the run stays well under two minutes on a loaded two-core machine: about 23
# cases per operation (954 over the first 42 operations, counted), some 20 s.
EXAMPLES_PER_OPERATION = 20


def test_api_matches_its_document() -> None:
    # A sandbox of this test alone: generated data never lands in the session's shared one.
    # (schemathesis' own pytest integration is not used: it does not load under pytest 9.)
    with Sandbox() as sandbox:
        schema = schemathesis.openapi.from_url(sandbox.base_url + "/v1/openapi.json")
        # One account for the whole run, so that later requests see what earlier ones made.
        headers = {"Authorization": f"Bearer {fresh_key()}"}
        failures: dict[str, str] = {}
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: the run stays bounded
                # Many drawn values are filtered out by the document's own constraints: that is
                # the document being strict, not the test being slow.
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            )
            def check(case: Case) -> None:
                # JSON Schema's "integer" takes 20.0; the contract (booleans and floats are
                # refused for integer fields, as the hosted API does) wins over it.
                assume(not _has_float(case.body) and not _has_float(case.query))
                if case.operation.path.endswith("/stream"):
                    _check_stream(case, sandbox.base_url, headers)
                else:
                    case.call_and_validate(base_url=sandbox.base_url, headers=headers)

            try:
                check()
            # FailureGroup is a BaseExceptionGroup; keep going to report every operation at once.
            except (Exception, FailureGroup) as failure:
                failures[operation.label] = str(failure)
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())


def _check_stream(case: Case, base_url: str, headers: dict[str, str]) -> None:
    """A live stream never ends, and schemathesis' checks read the whole body: here the
    status must be documented, no 5xx, and a 200 must be a stream (its events are tested in
    tests/test_streams.py)."""
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=headers)
    with requests.request(**kwargs, stream=True, timeout=10) as response:
        documented = case.operation.definition.raw["responses"]
        assert str(response.status_code) in documented, (
            f"{case.operation.label}: {response.status_code} is not documented"
        )
        if response.status_code == 200:
            assert response.headers["Content-Type"].startswith("text/event-stream")


def _has_float(value: Any) -> bool:
    """True when a generated body or query holds a float anywhere."""
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_float(item) for item in value)
    return False

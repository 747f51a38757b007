"""Schemathesis, stateful: sequences of calls that use what earlier calls answered.

The single-call run (``test_schemathesis.py``) sends each operation made-up ids, so most calls
that name an inbox or a message only ever see 404. Here schemathesis links the operations by
their parameters and response fields (create an inbox, send from it, read the message, label
it, reply, list its thread, ...) and plays generated scenarios against a real sandbox, running
every check on every response: no 5xx, documented statuses, bodies, headers and content types,
valid data accepted and invalid data refused, and the stateful checks (a created resource is
readable, a deleted one is gone, another account's id is not leaked).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case, GenerationMode, Response
from schemathesis.config import SchemathesisConfig

from mailbot_sandbox import Sandbox
from tests.helpers import fresh_key

pytestmark = pytest.mark.slow

# Bounded for CI on a loaded two-core machine (20-40 s): 80 scenarios of up to 15 calls.
SCENARIOS = 120
STEPS_PER_SCENARIO = 15
LONGEST_WAIT_MS = 300  # a generated long-poll may ask for 120 s (and 25 s is the default)
STREAM_SECONDS = 1.0  # a live stream never ends: its head and first bytes are what is checked
WAIT = "/v1/inboxes/{inbox_id}/messages/wait"

CONFIG = {
    # Valid requests only: the point here is what linked calls do to each other; invalid data
    # per operation is the single-call run's job. (A generated invalid query value, such as
    # a list of one string or an object, often reaches the wire as a valid one: a query string
    # has no types, so here it would be reported as "invalid data accepted".)
    "generation": {"mode": "positive"},
    "operations": [
        {
            # A wait that finds nothing in time answers 408 wait_timeout (the contract's
            # choice): the documented outcome of a well-formed wait, not a refusal.
            "include-path": WAIT,
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "408", "429"]
                }
            },
        },
        {
            # DELETE /v1/inboxes/{id} disables the inbox, as the hosted API does; it and its
            # mail stay readable, so reading them after the DELETE is no use-after-free.
            "include-path-regex": "^/v1/inboxes/[{]inbox_id[}]",
            "checks": {"use_after_free": {"enabled": False}},
        },
    ],
}


def test_linked_operations_keep_to_the_document() -> None:
    with Sandbox() as sandbox:  # generated data stays out of the session's shared sandbox
        schema = schemathesis.openapi.from_url(
            sandbox.base_url + "/v1/openapi.json", config=SchemathesisConfig.from_dict(CONFIG)
        ).exclude(
            # An injected fault makes the inbox's next valid sends fail (or wait) on purpose:
            # here that would read as the server refusing valid data. tests/test_faults.py
            # covers faults, and the single-call run this operation's document.
            method="POST",
            path="/sandbox/v1/inboxes/{inbox_id}/faults",
        )
        headers: dict[str, str] = {}
        answered: Counter[tuple[str, int]] = Counter()

        class Scenarios(schema.as_state_machine()):  # type: ignore[misc]
            def setup(self) -> None:
                # A fresh account per scenario: each starts from the same (empty) state, so
                # that hypothesis sees the same answers when it replays a scenario's start.
                headers["Authorization"] = f"Bearer {fresh_key()}"

            def before_call(self, case: Case) -> None:
                if case.meta is not None and case.meta.generation.mode is GenerationMode.NEGATIVE:
                    # Only valid data is generated here, but schemathesis (4.32) labels a step
                    # that leaves an optional request body out as negative; leaving it out is
                    # valid, so the step is checked as the valid request it is.
                    case.meta.generation.mode = GenerationMode.POSITIVE
                # JSON Schema's "integer" takes 20.0; the contract refuses it (as the hosted
                # API does), so generated whole floats are sent as integers.
                case.body = _whole(case.body)
                case.query = _whole(case.query)
                if case.operation.path == WAIT and isinstance(case.query, dict):
                    wait = case.query.get("timeout_ms", LONGEST_WAIT_MS)
                    if isinstance(wait, int) and not isinstance(wait, bool):
                        case.query["timeout_ms"] = min(wait, LONGEST_WAIT_MS)
                    # ``after`` may name a message, which must then exist (the contract
                    # refuses an unknown one with 400, which no document can express); a
                    # generated id never does, so it would read as valid data refused.
                    after = case.query.get("after")
                    if isinstance(after, str) and after.startswith("msg_"):
                        del case.query["after"]

            def after_call(self, response: Response, case: Case) -> None:
                super().after_call(response, case)  # the stateful checks read the recording
                answered[case.operation.label, response.status_code] += 1

            def get_call_kwargs(self, case: Case) -> dict[str, Any]:
                # schemathesis reads an event stream until the timeout, then checks what came
                timeout = STREAM_SECONDS if case.operation.path.endswith("/stream") else 30
                return {"base_url": sandbox.base_url, "headers": headers, "timeout": timeout}

        Scenarios.run(
            settings=settings(
                max_examples=SCENARIOS,
                stateful_step_count=STEPS_PER_SCENARIO,
                deadline=None,
                database=None,
                # The same scenarios on every run, so CI stays green or red for a reason:
                # exploring anew each time left some runs with hardly a linked call.
                derandomize=True,
                phases=[Phase.generate],  # no shrinking: the run stays bounded
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            )
        )
    # The scenarios reached past creating things: calls naming what an earlier call made
    # (an inbox, a domain, a webhook, a message) succeeded.
    linked = {label for (label, status), _ in answered.items() if status < 300 and "{" in label}
    assert len(linked) >= 3, sorted(answered.items())


def _whole(value: Any) -> Any:
    """``value`` with every float that is a whole number turned into an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole(item) for item in value]
    return value

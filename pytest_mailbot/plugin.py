"""pytest entry point: options and fixtures only; the behaviour lives in mailbot_sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mailbot_sandbox.sandbox import Sandbox


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mailbot", "mailbot sandbox")
    group.addoption(
        "--mailbot-url",
        default=None,
        help="use the sandbox at this URL instead of starting one in-process",
    )


@pytest.fixture(scope="session")
def mailbot_sandbox() -> Iterator[Sandbox]:
    """A sandbox started in this process on OS-chosen ports, stopped after the session."""
    from mailbot_sandbox.sandbox import Sandbox

    with Sandbox() as sandbox:
        yield sandbox

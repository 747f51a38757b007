"""Shared fixtures: one real sandbox per test session (per xdist worker), fresh accounts.

Plain helpers (the ``Api`` client, ``send``, ``smtp_message``, ...) live in ``tests/helpers.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailbot_sandbox import Sandbox
from tests.helpers import Api, fresh_key


@pytest.fixture(autouse=True)
def _without_mailbot_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide the developer's own MAILBOT_* variables: every test starts from the defaults."""
    for name in list(os.environ):
        if name.startswith("MAILBOT_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The session's sandbox (one per xdist worker); tests isolate by account, not by server."""
    with Sandbox() as running:
        yield running


@pytest.fixture
def make_api(sandbox: Sandbox) -> Iterator[Callable[..., Api]]:
    """Clients for fresh accounts (or a given key) on the session's sandbox."""
    made: list[Api] = []

    def make(key: str | None = None, target: Sandbox | None = None) -> Api:
        client = Api((target or sandbox).base_url, key or fresh_key())
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """A client for a brand-new account: nothing another test made is visible to it."""
    return make_api()


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox of this test alone, on a database file the data commands can open too."""
    with Sandbox(db=str(tmp_path / "mail.db")) as running:
        yield running

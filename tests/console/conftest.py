"""Fixtures of the browser tests: one Chromium for the browser tests an xdist worker runs in
a row, a fresh browser context and page per test, and sandboxes to point them at.

Without Chromium or axe-core the tests skip, saying which script installs the missing piece;
with ``CONSOLE_BROWSER_TESTS_REQUIRED=1`` (CI) they fail instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from mailbot_sandbox import Sandbox
from tests.console.browser import (
    AXE_SCRIPT,
    CHROMIUM_ARGS,
    DESKTOP,
    browser_tests_required,
    chromium_executable,
)


def _missing(reason: str) -> None:
    if browser_tests_required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


# Package scope, not session: Playwright's sync API marks an asyncio loop as running in this
# thread while it lives, and the rest of the suite's asyncio.run() calls (the SMTP tests)
# fail under it. pytest tears these down before the worker runs a test outside this folder.
@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright's driver process, for the browser tests a worker runs in a row."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium, shared by the browser tests a worker runs in a row."""
    executable = chromium_executable()
    if executable is None:
        _missing("no chromium on PATH (nor $CHROMIUM): run scripts/ensure-chromium")
    launched = playwright_driver.chromium.launch(
        executable_path=executable, args=CHROMIUM_ARGS, headless=True
    )
    yield launched
    launched.close()


@pytest.fixture
def new_context(browser: Browser, sandbox: Sandbox) -> Iterator[Callable[..., BrowserContext]]:
    """Fresh browser contexts (own cookies, own storage) aimed at the session's sandbox by
    default; each is closed after the test."""
    made: list[BrowserContext] = []

    def make(target: Sandbox | None = None, **options: Any) -> BrowserContext:
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(base_url=(target or sandbox).base_url, **options)
        context.set_default_timeout(10_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    """A page of a fresh desktop-sized context on the session's sandbox."""
    return new_context().new_page()


@pytest.fixture
def axe_available() -> None:
    """Skip (or, in CI, fail) a test that needs axe-core when it is not installed."""
    if not AXE_SCRIPT.exists():
        _missing(f"axe-core missing ({AXE_SCRIPT.name}): run scripts/ensure-axe")


@pytest.fixture
def axe_page(axe_available: None, new_context: Callable[..., BrowserContext]) -> Page:
    """A page whose context bypasses the console's Content-Security-Policy, so that axe-core
    can be injected into it: for the accessibility checks only."""
    return new_context(bypass_csp=True).new_page()


@pytest.fixture(scope="session")
def key_sandbox() -> Iterator[Sandbox]:
    """A sandbox whose console asks for an API key and shows only that key's account."""
    with Sandbox(console_auth="key") as running:
        yield running

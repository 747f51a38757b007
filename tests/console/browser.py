"""Driving the web console in a real headless Chromium: where the browser is, how it is
launched, and the checks every page gets (axe-core, phone width).

The browser is Debian's ``chromium`` package (``scripts/ensure-chromium``), driven by
Playwright through ``executable_path``: Playwright's own browser download is never used.
axe-core comes from npm (``scripts/ensure-axe``) into ``tests/console/node_modules``.
"""

from __future__ import annotations

import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

HERE = Path(__file__).resolve().parent
AXE_SCRIPT = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = HERE.parent.parent / "docs"

# Headless in a container: no sandbox (we run as root), no GPU, and nothing phoning home
# (no reachable network beyond the sandbox under test, and no time to waste waiting on it).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# When set (CI sets it in .ci/run), a missing browser or axe-core fails the browser tests
# instead of skipping them.
REQUIRED_FLAG = "CONSOLE_BROWSER_TESTS_REQUIRED"

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}

# axe-core impacts that fail a page; "moderate" and "minor" are left to judgement.
FAILING_IMPACTS = ("serious", "critical")


def chromium_executable() -> str | None:
    """The Chromium binary to drive: ``$CHROMIUM`` when set, else ``chromium`` on PATH."""
    chosen = os.environ.get("CHROMIUM")
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    return shutil.which("chromium")


def browser_tests_required() -> bool:
    """True when a missing browser or axe-core must fail rather than skip (CI)."""
    return os.environ.get(REQUIRED_FLAG, "") not in ("", "0")


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; the violations of serious or critical impact.

    The page's context must bypass the Content-Security-Policy (the console allows only its
    own scripts), or the injected axe-core would be refused.
    """
    page.add_script_tag(path=str(AXE_SCRIPT))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v["impact"] in FAILING_IMPACTS]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """One line per violation and the elements it names, for a failure message."""
    lines = []
    for violation in violations:
        targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        lines.append(f"{violation['impact']}: {violation['id']} ({violation['help']}) at {targets}")
    return "\n".join(lines)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no horizontal scroll)."""
    return int(
        page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - document.documentElement.clientWidth"
        )
    )


# A 1x1 transparent PNG, what the tripwire server answers for an image.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class Tripwire:
    """An HTTP server on 127.0.0.1 that records every request made to it: the "remote"
    server a hostile mail points its images and scripts at. Use as a context manager."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._arrived = threading.Condition()
        tripwire = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with tripwire._arrived:
                    tripwire.paths.append(self.path)
                    tripwire._arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PIXEL)))
                self.end_headers()
                self.wfile.write(PIXEL)

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        """The address of ``path`` on this server."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def wait_for(self, path: str, timeout: float = 10) -> bool:
        """True once ``path`` was requested; False if it was not within ``timeout`` seconds."""
        with self._arrived:
            return self._arrived.wait_for(lambda: path in self.paths, timeout)

    def __enter__(self) -> Tripwire:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


SCREENSHOTS_FLAG = "CONSOLE_SCREENSHOTS"


def screenshot(page: Page, name: str) -> Path | None:
    """Save the page as ``docs/console-NAME.png`` (the README's pictures) when
    ``CONSOLE_SCREENSHOTS=1``; otherwise nothing, so that a test run leaves the tree alone."""
    if os.environ.get(SCREENSHOTS_FLAG, "") in ("", "0"):
        return None
    path = SCREENSHOTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path

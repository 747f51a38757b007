"""mailbot-sandbox: a local stand-in for the mailbot programmable-inbox API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mailbot_sandbox.sandbox import Sandbox

__all__ = ["Sandbox", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy so that `import mailbot_sandbox` (e.g. from the pytest entry point) stays cheap.
    if name == "Sandbox":
        from mailbot_sandbox.sandbox import Sandbox

        return Sandbox
    raise AttributeError(name)

"""mailbot-sandbox: a local stand-in for the mailbot programmable-inbox API.

The public API is what this module exports: :class:`Sandbox` (start and stop a sandbox in
code), :class:`ConfigError` (a setting given to it is wrong) and :func:`html_to_text` (the
visible text of an HTML body, as the sandbox indexes it). Everything else is internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mailbot_sandbox.errors import ConfigError
    from mailbot_sandbox.mail.text import html_to_text
    from mailbot_sandbox.sandbox import Sandbox

__all__ = ["ConfigError", "Sandbox", "__version__", "html_to_text"]


def __getattr__(name: str) -> Any:
    # Lazy so that `import mailbot_sandbox` (e.g. from the pytest entry point) stays cheap;
    # each name is imported once, then kept here as a plain attribute.
    value: Any
    if name == "Sandbox":
        from mailbot_sandbox.sandbox import Sandbox as value
    elif name == "ConfigError":
        from mailbot_sandbox.errors import ConfigError as value
    elif name == "html_to_text":
        from mailbot_sandbox.mail.text import html_to_text as value
    else:
        raise AttributeError(f"module 'mailbot_sandbox' has no attribute {name!r}")
    globals()[name] = value
    return value

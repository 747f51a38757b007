"""The web console: server-rendered pages beside the API, at ``/``.

One Flask blueprint with Jinja templates and one small script and stylesheet shipped in the
package (no CDN, no build step). The views read and change through ``core/`` exactly as the
API's views do; :mod:`~mailbot_sandbox.console.access` says who sees what.
"""

from __future__ import annotations

from flask import Flask

from mailbot_sandbox.console import access, mailbox, pages
from mailbot_sandbox.console.blueprint import bp
from mailbot_sandbox.core.services import Services

__all__ = ["bp", "register"]

# The view modules register their routes on ``bp`` as they are imported.
_VIEWS = (mailbox, pages)


def register(app: Flask) -> None:
    """Serve the console from ``app`` (an app of :func:`~mailbot_sandbox.api.app.create_app`),
    next to ``/v1``."""
    services: Services = app.extensions["mailbot"]
    access.install(app, services.config)
    app.register_blueprint(bp)

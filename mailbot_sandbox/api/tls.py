"""``/sandbox/v1/tls``: what a client needs to trust the SMTP server's certificate."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from mailbot_sandbox.api.routes import route
from mailbot_sandbox.errors import NotFound

bp = Blueprint("tls", __name__, url_prefix="/sandbox/v1/tls")

# Where the sandbox keeps the CA certificate it serves (bytes), set by whoever starts the app.
CA_EXTENSION = "mailbot.tls_ca"


@route(
    bp,
    "GET",
    "/ca.pem",
    "The CA certificate that signed the SMTP server's certificate (PEM); no key needed",
    envelope="bytes",
    content_type="application/x-pem-file",
    errors=(404,),
    authenticated=False,
)
def ca_certificate() -> Response:
    """The sandbox CA's certificate, for clients to trust: public, so no key is asked for (a
    client needs it before it has anything else). 404 when the server presents a certificate
    the user gave, which has no sandbox CA behind it."""
    pem: bytes | None = current_app.extensions.get(CA_EXTENSION)
    if pem is None:
        raise NotFound(
            "this sandbox presents the certificate it was given (--tls-cert), not one of its "
            "own CA: trust that certificate's issuer instead",
            code="no_sandbox_ca",
        )
    return Response(
        pem,
        content_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="mailbot-sandbox-ca.pem"'},
    )

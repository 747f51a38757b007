"""DKIM signatures (RFC 6376) on outgoing mail, through dkimpy."""

from __future__ import annotations

# The headers a signature covers: those a reader sees and a forwarder must not change.
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"in-reply-to",
    b"references",
    b"mime-version",
    b"content-type",
)


def sign(raw: bytes, *, domain: str, selector: str, private_key_pem: str) -> bytes:
    """``raw`` with a ``DKIM-Signature`` header in front (relaxed/relaxed, rsa-sha256), made
    with the domain's key; the record ``<selector>._domainkey.<domain>`` verifies it."""
    import dkim  # imported here: most sandboxes never send from a custom domain

    linesep = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    header = dkim.sign(
        raw,
        selector.encode(),
        domain.encode(),
        private_key_pem.encode(),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=list(SIGNED_HEADERS),
        linesep=linesep,
    )
    return bytes(header) + raw

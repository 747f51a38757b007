"""Syntax of host names and email addresses: the checks the API, SMTP and config share."""

from __future__ import annotations

import re
from email.utils import parseaddr

_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_ADDR_SPECIALS = set(' \t\r\n@<>()[],;:"\\')


def is_valid_domain(domain: str) -> bool:
    """True for a syntactically valid DNS host name with at least two labels."""
    if not isinstance(domain, str) or not 3 <= len(domain) <= 253:
        return False
    labels = domain.lower().rstrip(".").split(".")
    return len(labels) >= 2 and all(_LABEL_RE.match(label) for label in labels)


def parse_address(text: str) -> str | None:
    """The addr-spec of ``a@b.example`` or ``Name <a@b.example>``, domain lowercased; None
    when it is not a valid address.

    The local part may be UTF-8 (SMTPUTF8); the domain must be a valid host name, also as IDN.
    """
    _, address = parseaddr(text)
    address = address or text.strip()
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or len(local) > 64
        or any(ch in _ADDR_SPECIALS for ch in local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
        or not _idna_ok(domain)
    ):
        return None
    return f"{local}@{domain.lower()}"


def _idna_ok(domain: str) -> bool:
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return is_valid_domain(ascii_domain)

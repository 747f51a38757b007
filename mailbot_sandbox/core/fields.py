"""Field checks shared by every write path. Each failure names the field it is about."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from mailbot_sandbox.errors import InvalidRequest

_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_USERNAME_RE = re.compile(r"^[a-z0-9._-]{1,64}$")
MAX_TEXT = 256
MAX_LABELS = 50


def is_valid_domain(domain: str) -> bool:
    """True for a syntactically valid DNS host name with at least two labels."""
    if not isinstance(domain, str) or not 3 <= len(domain) <= 253:
        return False
    labels = domain.lower().rstrip(".").split(".")
    return len(labels) >= 2 and all(_LABEL_RE.match(label) for label in labels)


def check_fields(
    body: Mapping[str, Any], allowed: Iterable[str], required: Iterable[str] = ()
) -> None:
    """Reject unknown fields and missing required ones."""
    allowed = set(allowed)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequest(
            f"unknown field {unknown[0]!r}; allowed fields are {', '.join(sorted(allowed))}",
            field=unknown[0],
        )
    for name in required:
        if body.get(name) is None:
            raise InvalidRequest(f"{name} is required", field=name)


def string(value: Any, field: str, *, max_length: int = MAX_TEXT, allow_empty: bool = False) -> str:
    """A string without control characters (no CR/LF: these end up in mail headers)."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a string, got {type_name(value)}", field=field)
    if not allow_empty and not value.strip():
        raise InvalidRequest(f"{field} must not be empty", field=field)
    if len(value) > max_length:
        raise InvalidRequest(f"{field} must be at most {max_length} characters", field=field)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidRequest(f"{field} must not contain control characters", field=field)
    return value


def integer(value: Any, field: str, *, low: int, high: int) -> int:
    """An integer in ``[low, high]``; booleans, floats and numeric strings are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(
            f"{field} must be an integer from {low} to {high}, got {type_name(value)}", field=field
        )
    if not low <= value <= high:
        raise InvalidRequest(f"{field} must be from {low} to {high}, got {value}", field=field)
    return value


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{field} must be true or false, got {type_name(value)}", field=field)
    return value


def username(value: Any) -> str:
    name = string(value, "username", max_length=64).lower()
    if not _USERNAME_RE.match(name) or name.startswith(".") or name.endswith("."):
        raise InvalidRequest(
            "username may hold only a-z, 0-9, '.', '_' and '-' (1-64 characters) "
            "and must not start or end with '.'",
            field="username",
        )
    return name


def domain_name(value: Any, field: str = "domain") -> str:
    name = string(value, field, max_length=253).strip().lower().rstrip(".")
    if not is_valid_domain(name):
        raise InvalidRequest(f"{field} {value!r} is not a valid domain name", field=field)
    return name


_DNS_LABEL_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def dns_name(value: Any, field: str) -> str:
    """A DNS owner name; unlike a host name its labels may hold ``_`` (``_dmarc``)."""
    name = string(value, field, max_length=253).strip().lower().rstrip(".")
    if not all(_DNS_LABEL_RE.match(label) for label in name.split(".")):
        raise InvalidRequest(f"{field} {value!r} is not a valid DNS name", field=field)
    return name


def choices(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidRequest(
            f"{field} must be one of {', '.join(allowed)}, got {short_repr(value)}", field=field
        )
    return value


def string_set(
    value: Any, field: str, *, allowed: tuple[str, ...] | None = None, allow_empty: bool = True
) -> list[str]:
    """A list of distinct strings, duplicates dropped, order kept (or ``allowed``'s order)."""
    if not isinstance(value, list):
        raise InvalidRequest(
            f"{field} must be a list of strings, got {type_name(value)}", field=field
        )
    items: list[str] = []
    for item in value:
        if allowed is not None:
            choices(item, field, allowed)
        else:
            string(item, field, max_length=64)
        if item not in items:
            items.append(item)
    if not items and not allow_empty:
        raise InvalidRequest(f"{field} must not be empty", field=field)
    if len(items) > MAX_LABELS:
        raise InvalidRequest(f"{field} may hold at most {MAX_LABELS} items", field=field)
    if allowed is not None:
        items.sort(key=allowed.index)
    return items


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_ADDR_SPECIALS = set(' \t\r\n@<>()[],;:"\\')


def email_address(value: Any, field: str) -> str:
    """An address (``a@b.example`` or ``Name <a@b.example>``) reduced to its addr-spec.

    The local part may be UTF-8 (SMTPUTF8); the domain must be a valid host name, also as IDN.
    """
    from email.utils import parseaddr

    text = string(value, field, max_length=320)
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
        raise InvalidRequest(
            f"{field}: {short_repr(value)} is not a valid email address", field=field
        )
    return f"{local}@{domain.lower()}"


def _idna_ok(domain: str) -> bool:
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return is_valid_domain(ascii_domain)


def address_list(value: Any, field: str, *, required: bool = False, most: int = 100) -> list[str]:
    """One address or a list of them, each validated; duplicates dropped."""
    if value is None:
        if required:
            raise InvalidRequest(f"{field} is required", field=field)
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise InvalidRequest(f"{field} must be an address or a list of addresses", field=field)
    if required and not items:
        raise InvalidRequest(f"{field} must name at least one address", field=field)
    if len(items) > most:
        raise InvalidRequest(f"{field} may hold at most {most} addresses", field=field)
    found: list[str] = []
    for index, item in enumerate(items):
        address = email_address(item, f"{field}[{index}]" if len(items) > 1 else field)
        if address.lower() not in (a.lower() for a in found):
            found.append(address)
    return found

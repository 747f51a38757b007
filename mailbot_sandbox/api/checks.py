"""The value types request shapes are built from, and pydantic errors as ``InvalidRequest``.

Each check is written once here, as an annotated type the request models in
:mod:`~mailbot_sandbox.api.bodies` reuse; a failure names the field it is about
(``to[1]``, ``attachments[0].content``, ``headers.X-Tag``), as the error contract promises.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictStr,
    ValidationError,
    WithJsonSchema,
)

from mailbot_sandbox.errors import InvalidRequest
from mailbot_sandbox.ids import parse_time
from mailbot_sandbox.mail.addresses import is_valid_domain, parse_address
from mailbot_sandbox.mail.compose import MANAGED_HEADERS, is_managed_header

MAX_TEXT = 256
MAX_ITEMS = 50
MAX_ADDRESSES = 100

_HEADER_NAME_CHARS = frozenset(chr(code) for code in range(33, 127)) - {":"}
_DNS_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


class Shape(BaseModel):
    """Base of every request shape: unknown fields are refused, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# -- single values ------------------------------------------------------------------------------
def _no_control_characters(value: str) -> str:
    # No CR/LF above all: these values end up in mail headers.
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _domain(value: str) -> str:
    name = value.strip().lower().rstrip(".")
    if not is_valid_domain(name):
        raise ValueError(f"{short_repr(value)} is not a valid domain name")
    return name


def _dns_name(value: str) -> str:
    # Unlike a host name, a DNS owner name's labels may hold "_" (_dmarc, _domainkey).
    name = value.strip().lower().rstrip(".")
    labels = name.split(".")
    if not all(label and set(label) <= _DNS_NAME_CHARS for label in labels) or any(
        label[0] == "-" or label[-1] == "-" or len(label) > 63 for label in labels
    ):
        raise ValueError(f"{short_repr(value)} is not a valid DNS name")
    return name


def _address(value: str) -> str:
    address = parse_address(value)
    if address is None:
        raise ValueError(f"{short_repr(value)} is not a valid email address")
    return address


def _base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"must be a base64 string, got {type_name(value)}")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None


def _header_name(value: str) -> str:
    if not 1 <= len(value) <= 76 or not set(value) <= _HEADER_NAME_CHARS:
        raise ValueError(f"{short_repr(value)} is not a valid header name")
    if is_managed_header(value):
        raise ValueError(f"{value} is set by the sandbox; use the message fields instead")
    return value


_NO_CONTROL = AfterValidator(_no_control_characters)
_NOT_BLANK = AfterValidator(_not_blank)


def _documented(pattern: str) -> Any:
    # The document states what the validators above accept, so that a client (or a fuzzer)
    # generating from it sends what the server takes; the validators keep their own messages.
    return Field(json_schema_extra={"pattern": pattern})


# No C0 control character nor DEL, and (for the not-blank kinds) at least one character
# that is not white space.
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f]*$"
# White space spelled out: the dialects differ on what "\s" covers (U+0085, U+FEFF).
_VISIBLE = r"[^\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
NOT_BLANK_PATTERN = rf"^[^\x00-\x1f\x7f]*{_VISIBLE}[^\x00-\x1f\x7f]*$"
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DNS_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
DOMAIN_PATTERN = rf"^({_LABEL}\.)+{_LABEL}$"
# A common subset of what is accepted (longer, quoted or UTF-8 local parts are too): enough
# to generate from, and what nearly every client sends.
_SHORT_LABEL = r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
_ATOM = r"[a-zA-Z0-9_+-]{1,20}"
EMAIL_PATTERN = rf"^{_ATOM}(\.{_ATOM}){{0,2}}@({_SHORT_LABEL}\.){{1,3}}{_SHORT_LABEL}$"
BASE64_PATTERN = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"

Text = Annotated[
    StrictStr, Field(max_length=MAX_TEXT), _NO_CONTROL, _NOT_BLANK, _documented(NOT_BLANK_PATTERN)
]
ShortText = Annotated[
    StrictStr, Field(max_length=64), _NO_CONTROL, _NOT_BLANK, _documented(NOT_BLANK_PATTERN)
]
LongText = Annotated[
    StrictStr, Field(max_length=4096), _NO_CONTROL, _NOT_BLANK, _documented(NOT_BLANK_PATTERN)
]
# A subject or a header value: may be empty, at most one line of RFC 5322's 998 characters.
HeaderText = Annotated[
    StrictStr, Field(max_length=998), _NO_CONTROL, _documented(NO_CONTROL_PATTERN)
]
SearchText = Annotated[
    StrictStr, Field(max_length=1000), _NO_CONTROL, _documented(NO_CONTROL_PATTERN)
]
MediaType = Annotated[StrictStr, Field(max_length=127, pattern="/"), _NO_CONTROL, _NOT_BLANK]

DomainName = Annotated[
    StrictStr,
    Field(max_length=253),
    _NO_CONTROL,
    AfterValidator(_domain),
    _documented(DOMAIN_PATTERN),
]
DnsName = Annotated[
    StrictStr,
    Field(max_length=253),
    _NO_CONTROL,
    AfterValidator(_dns_name),
    _documented(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*\.?$"),
]
EmailAddress = Annotated[
    StrictStr,
    Field(max_length=320),
    _NO_CONTROL,
    AfterValidator(_address),
    _documented(EMAIL_PATTERN),
]


Base64 = Annotated[
    bytes,
    BeforeValidator(_base64, json_schema_input_type=str),
    Field(json_schema_extra={"contentEncoding": "base64", "pattern": BASE64_PATTERN}),
]


def _any_case(text: str) -> str:
    return "".join(f"[{ch.upper()}{ch}]" if ch.isalpha() else re.escape(ch) for ch in text)


# A visible-ASCII name without ":" that the sandbox does not set itself (case-insensitive,
# spelled out per letter as the document's regex dialect has no flags).
_MANAGED = "|".join(_any_case(name) for name in sorted(MANAGED_HEADERS))
HEADER_NAME_PATTERN = rf"^(?!(?:{_MANAGED})$)(?!{_any_case('content-')})[!-9;-~]{{1,76}}$"
HeaderName = Annotated[StrictStr, AfterValidator(_header_name), _documented(HEADER_NAME_PATTERN)]


def _names_checked(schema: dict[str, Any]) -> None:
    # pydantic writes key rules as patternProperties, which leave other keys unchecked.
    for pattern, values in schema.pop("patternProperties", {}).items():
        schema["propertyNames"] = {"pattern": pattern}
        schema["additionalProperties"] = values


Headers = Annotated[dict[HeaderName, HeaderText], Field(json_schema_extra=_names_checked)]


# -- lists ----------------------------------------------------------------------------------------
_T = TypeVar("_T")


def _distinct(items: list[_T]) -> list[_T]:
    """Duplicates dropped, first order kept."""
    return list(dict.fromkeys(items))


def _distinct_addresses(items: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for address in items:
        seen.setdefault(address.lower(), address)
    return list(seen.values())


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


# One address or a list of them, each checked; duplicates (in any case) dropped.
_ONE_OR_MANY = BeforeValidator(
    _one_or_many, json_schema_input_type=EmailAddress | list[EmailAddress]
)
Addresses = Annotated[
    list[EmailAddress],
    _ONE_OR_MANY,
    Field(max_length=MAX_ADDRESSES),
    AfterValidator(_distinct_addresses),
]
SomeAddresses = Annotated[
    list[EmailAddress],
    _ONE_OR_MANY,
    Field(min_length=1, max_length=MAX_ADDRESSES),
    AfterValidator(_distinct_addresses),
]
ReplyToAddresses = Annotated[
    list[EmailAddress], _ONE_OR_MANY, Field(max_length=10), AfterValidator(_distinct_addresses)
]
Labels = Annotated[list[ShortText], Field(max_length=MAX_ITEMS), AfterValidator(_distinct)]


# -- times --------------------------------------------------------------------------------------
def _moment(value: Any) -> datetime:
    moment = parse_time(value) if isinstance(value, str) else None
    if moment is None:
        raise ValueError(f"must be an ISO-8601 time, got {short_repr(value)}")
    return moment


def _moment_or_message(value: Any) -> datetime | str:
    if isinstance(value, str) and value.startswith("msg_"):
        return value
    if isinstance(value, str) and (moment := parse_time(value)) is not None:
        return moment
    raise ValueError(f"must be an ISO-8601 time or a message id, got {short_repr(value)}")


# An ISO-8601 time (Z or an offset, or a bare date), as an aware UTC datetime.
Moment = Annotated[
    datetime,
    PlainValidator(_moment, json_schema_input_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
MomentOrMessage = Annotated[
    datetime | str,
    PlainValidator(_moment_or_message, json_schema_input_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [{"format": "date-time"}, {"pattern": "^msg_"}],
            "description": "an ISO-8601 time or a message id",
        }
    ),
]


# -- errors ---------------------------------------------------------------------------------------
def type_name(value: Any) -> str:
    """How an error message names the JSON type of ``value``."""
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


def _where(loc: tuple[int | str, ...]) -> str:
    """``("attachments", 0, "content")`` -> ``attachments[0].content``."""
    text = ""
    for part in loc:
        if part == "[key]":  # the key of a mapping: its name is the previous part already
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def invalid_request(exc: ValidationError, model: type[BaseModel], noun: str) -> InvalidRequest:
    """The first of pydantic's errors as today's message naming the field (or parameter)."""
    error = exc.errors(include_url=False)[0]
    where, kind, value = _where(error["loc"]), error["type"], error.get("input")
    ctx: dict[str, Any] = error.get("ctx") or {}
    if kind == "extra_forbidden":
        names = (info.alias or name for name, info in model.model_fields.items())
        allowed = ", ".join(sorted(names)) if len(error["loc"]) == 1 else None
        message = f"unknown {noun} {where.rpartition('.')[2]!r}"
        if allowed:
            message += f"; allowed {noun}s are {allowed}"
    elif kind == "missing":
        message = f"{where} is required"
    elif kind == "value_error":
        message = f"{where} {ctx['error']}" if where else str(ctx["error"])
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        low, high = _bounds(model, error["loc"])
        span = f" from {low} to {high}" if low is not None and high is not None else ""
        message = f"{where} must be an integer{span}, got {_shown(value)}"
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        low, high = _bounds(model, error["loc"])
        if low is not None and high is not None:
            message = f"{where} must be from {low} to {high}, got {value}"
        elif low is not None:
            message = f"{where} must be at least {low}, got {value}"
        else:
            message = f"{where} must be at most {high}, got {value}"
    elif kind == "literal_error":
        message = f"{where} must be one of {ctx['expected']}, got {short_repr(value)}"
    elif kind == "string_type":
        message = f"{where} must be a string, got {type_name(value)}"
    elif kind in ("bool_type", "bool_parsing"):
        message = f"{where} must be true or false, got {_shown(value)}"
    elif kind == "list_type":
        message = f"{where} must be a list, got {type_name(value)}"
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        message = f"{where} must be an object, got {type_name(value)}"
    elif kind == "too_short":
        message = f"{where} must not be empty"
    elif kind == "too_long":
        message = f"{where} may hold at most {ctx['max_length']} {_unit(value)}"
    else:
        message = f"{where}: {error['msg']}"
    return InvalidRequest(message, field=where or None)


def _bounds(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[Any, Any]:
    """The ``ge``/``le`` bounds declared on a top-level field, for a message naming both."""
    info = model.model_fields.get(str(loc[0])) if len(loc) == 1 else None
    low = high = None
    for constraint in info.metadata if info is not None else ():
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    return low, high


def _shown(value: Any) -> str:
    # Query parameters are strings: show the text; for JSON values name the type.
    return repr(value) if isinstance(value, str) else type_name(value)


def _unit(value: Any) -> str:
    return "characters" if isinstance(value, str) else "items"

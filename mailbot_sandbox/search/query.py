"""Parse a Mailpit/Gmail-like search string into a typed query: words, phrases and filters.

The query language (operator names are case-insensitive):

* free words are AND-ed and prefix-matched over subject, bodies, from and to (``verif`` finds
  ``verify``); ``"quoted phrases"`` match as phrases;
* ``from:x`` / ``to:x`` (to or cc) / ``subject:x`` are case-insensitive "contains" filters;
  ``subject:"two words"`` takes the quoted value;
* ``label:x`` matches one label exactly; ``has:attachment``; ``is:inbound`` / ``is:outbound``;
* ``before:D`` / ``after:D`` filter on ``created_at`` (see :func:`parse_query`);
* a leading ``-`` negates any term; an unknown ``word:thing`` is plain text.

The store renders the resulting :class:`SearchQuery` into SQL; the query's types live
beside that rendering (``mailbot_sandbox.store.search``), the lowest layer that needs them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from mailbot_sandbox.errors import InvalidRequest
from mailbot_sandbox.store.search import Comparison, Filter, SearchQuery, Words

MAX_QUERY_LENGTH = 1000
MAX_TERMS = 50

_OPERATORS = frozenset({"from", "to", "subject", "label", "has", "is", "before", "after"})
_OPERATOR_RE = re.compile(r"([A-Za-z]+):")
_HAS_VALUES = frozenset({"attachment", "attachments"})
_IS_VALUES = frozenset({"inbound", "outbound"})
# The latest instant a created_at string can hold; "after" the last representable day.
_END_OF_TIME = "9999-12-31T23:59:59.999Z"


@dataclass(frozen=True)
class _Term:
    negated: bool
    operator: str | None  # lower-case operator name; None for free text
    value: str
    quoted: bool


def parse_query(query: str) -> SearchQuery:
    """Parse a search string into its words, phrases and filters.

    Date semantics (``created_at`` is an ISO-8601 UTC string with milliseconds):

    * ``before:2026-11-20`` keeps messages created before 2026-11-20T00:00:00.000Z;
    * ``after:2026-11-20`` keeps messages created on or after 2026-11-21T00:00:00.000Z, i.e.
      strictly after the whole of that UTC day;
    * a full timestamp (``2026-11-20T10:00:00Z``, ``...+01:00``; no offset means UTC) is that
      exact instant: ``after:`` is strictly later, ``before:`` strictly earlier.

    Args:
        query: the user's search string; empty or blank matches everything.

    Returns:
        The parsed query; words without a letter or digit (``-``, ``@@``) are left out.

    Raises:
        InvalidRequest: (``field="query"``) for a query over 1,000 characters or 50 terms, an
            operator without a value, an unknown ``has:`` or ``is:`` value, a bad date, or text
            that is not valid Unicode.
    """
    if not isinstance(query, str):
        raise InvalidRequest("query must be a string", field="query")
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidRequest(f"query must be at most {MAX_QUERY_LENGTH} characters", field="query")
    try:
        # Lone surrogates cannot be bound as SQLite text; refuse them up front.
        query.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest("query is not valid Unicode text", field="query") from None
    # Control characters separate terms: a NUL inside an FTS5 string ends it early (a syntax
    # error), and tabs or newlines are whitespace to the user anyway.
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in query)

    parsed = SearchQuery()
    terms = 0
    for term in _tokenize(text):
        if term.operator is None:
            if not any(ch.isalnum() for ch in term.value):
                continue  # "-", "@@", "*": nothing the index could hold, so nothing to find
            parsed.words.append(Words(term.value, phrase=term.quoted, negated=term.negated))
        else:
            parsed.filters.append(_operator_filter(term.operator, term.value, term.negated))
        terms += 1
        if terms > MAX_TERMS:
            raise InvalidRequest(f"query must have at most {MAX_TERMS} terms", field="query")
    return parsed


def _tokenize(text: str) -> list[_Term]:
    """Split a search string into terms.

    Args:
        text: the query with control characters already turned into spaces.

    Returns:
        The terms in order. A ``"`` at the start of a term (or of an operator's value) opens a
        quoted value running to the next ``"``, or to the end of the text when unbalanced;
        elsewhere a term runs to the next whitespace.
    """
    terms: list[_Term] = []
    pos, end = 0, len(text)
    while pos < end:
        if text[pos].isspace():
            pos += 1
            continue
        # A "-" alone is not a negation of the following term ("a - b"), just an ignored word.
        negated = text[pos] == "-" and pos + 1 < end and not text[pos + 1].isspace()
        if negated:
            pos += 1
        operator = None
        found = _OPERATOR_RE.match(text, pos)
        if found and found.group(1).lower() in _OPERATORS:
            operator = found.group(1).lower()
            pos = found.end()
        if pos < end and text[pos] == '"':
            close = text.find('"', pos + 1)
            close = end if close == -1 else close
            terms.append(_Term(negated, operator, text[pos + 1 : close], quoted=True))
            pos = close + 1
        else:
            stop = pos
            while stop < end and not text[stop].isspace():
                stop += 1
            terms.append(_Term(negated, operator, text[pos:stop], quoted=False))
            pos = stop
    return terms


def _operator_filter(operator: str, value: str, negated: bool) -> Filter:
    """The filter for one ``operator:value`` term.

    Args:
        operator: a lower-case name from ``_OPERATORS``.
        value: the raw value (quotes already removed).
        negated: the term had a leading ``-``.

    Raises:
        InvalidRequest: for an empty value, an unknown ``has:``/``is:`` value or a bad date.
    """
    if not value.strip():
        raise InvalidRequest(f"{operator}: needs a value", field="query")
    if operator in ("from", "to", "subject", "label"):
        return Filter(operator, value, negated)  # type: ignore[arg-type]  # checked just above
    if operator == "has":
        if value.lower() not in _HAS_VALUES:
            raise InvalidRequest(f"unknown has: value {value!r}; use has:attachment", field="query")
        return Filter("has_attachment", negated=negated)
    if operator == "is":
        if value.lower() not in _IS_VALUES:
            raise InvalidRequest(
                f"unknown is: value {value!r}; use is:inbound or is:outbound", field="query"
            )
        return Filter("direction", value.lower(), negated)
    comparison, bound = _date_bound(operator, value)
    return Filter("created_at", bound, negated, comparison)


def _date_bound(operator: str, value: str) -> tuple[Comparison, str]:
    """The comparison and ``created_at`` bound for ``before:value`` or ``after:value``.

    Args:
        operator: ``"before"`` or ``"after"``.
        value: a ``YYYY-MM-DD`` day or an ISO-8601 timestamp.

    Returns:
        A comparison operator (one of a fixed few) and a bound in ``created_at``'s format.

    Raises:
        InvalidRequest: naming the value when it is not a valid date or timestamp.
    """
    text = value.strip().upper()
    try:
        if "T" not in text and " " not in text:
            day = datetime.combine(date.fromisoformat(text), time(), UTC)
            if operator == "before":
                return "<", _iso(day)
            if day.date() == date.max:
                return ">", _END_OF_TIME  # nothing can be created after the last day
            return ">=", _iso(day + timedelta(days=1))
        instant = datetime.fromisoformat(text)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        instant = instant.astimezone(UTC)
        sub_millisecond = instant.microsecond % 1000
        if not sub_millisecond:
            return (">" if operator == "after" else "<"), _iso(instant)
        # created_at holds whole milliseconds, so "> t" and "< t" both become comparisons with
        # t rounded up: created_at > t  <=>  created_at >= ceil(t); created_at < t  <=>  < ceil.
        ceiling = instant + timedelta(microseconds=1000 - sub_millisecond)
        return (">=" if operator == "after" else "<"), _iso(ceiling)
    except (ValueError, OverflowError):
        raise InvalidRequest(
            f"{operator}: needs a date like 2026-11-25 or an ISO-8601 timestamp, got {value!r}",
            field="query",
        ) from None


def _iso(instant: datetime) -> str:
    """``instant`` (UTC) as ``created_at`` writes it: ``2026-11-25T07:48:57.242Z``."""
    # isoformat pads the year to four digits, unlike strftime("%Y") on some platforms.
    return instant.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"

"""The full-text index (``messages_fts``) and searches over an inbox's messages.

A :class:`SearchQuery` (parsed by ``mailbot_sandbox.search.query``) is rendered here into one FTS5
MATCH expression and SQL filters. No user text ever becomes SQL: filters use ``?``
parameters, and the FTS5 expression is built only from double-quoted strings, which FTS5
treats as literal text whatever they contain.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from mailbot_sandbox.store.db import Store
from mailbot_sandbox.store.messages import MessageRow, messages_at

# FTS5 has no stand-alone NOT, so excluding words is a subquery.
_NOT_MATCH = "m.seq NOT IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"
_LIKE = "LIKE ? ESCAPE '\\'"
_JSON_LIKE = "EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value " + _LIKE + ")"


FilterField = Literal["from", "to", "subject", "label", "has_attachment", "direction", "created_at"]
Comparison = Literal["=", "<", ">", ">="]


@dataclass(frozen=True)
class Words:
    """Free text to find in subject, bodies, from and to: a ``phrase`` matches as written,
    otherwise the text is a prefix (``verif`` finds ``verify``)."""

    text: str
    phrase: bool = False
    negated: bool = False


@dataclass(frozen=True)
class Filter:
    """One ``operator:value`` term.

    ``from``, ``to`` (to or cc) and ``subject`` contain ``value`` case-insensitively;
    ``label`` is one label exactly; ``has_attachment`` takes no value; ``direction`` is
    ``inbound`` or ``outbound``; ``created_at`` compares with ``comparison`` to ``value``, a
    time in ``created_at``'s own format.
    """

    field: FilterField
    value: str = ""
    negated: bool = False
    comparison: Comparison = "="


@dataclass
class SearchQuery:
    """A parsed search: every term AND-ed. Empty lists match everything."""

    words: list[Words] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)


class SearchRefused(Exception):
    """The full-text engine refused a search's expression (the message says why)."""


@dataclass
class RenderedSearch:
    """A search as SQL, ready to be AND-ed into ``SELECT ... FROM messages m WHERE ...``.

    Attributes:
        match: an FTS5 MATCH expression for ``messages_fts`` (pass it as a parameter), or
            ``None`` when the query has no positive free-text terms.
        where: SQL boolean fragments over alias ``m`` with ``?`` placeholders, to be AND-ed.
        params: the parameters for ``where``, in order.
    """

    match: str | None = None
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)


class IndexSource(TypedDict):
    """What the index holds of one message, before its text is extracted."""

    seq: int
    subject: str
    body_text: str | None
    body_html: str | None
    from_name: str | None
    from_address: str
    recipients: str  # the to and cc addresses, space-separated


def render(query: SearchQuery) -> RenderedSearch:
    """The SQL for a parsed search."""
    rendered = RenderedSearch()
    positive: list[str] = []
    for words in query.words:
        expression = _fts_string(words.text) + ("" if words.phrase else "*")
        if words.negated:
            rendered.where.append(_NOT_MATCH)
            rendered.params.append(expression)
        else:
            positive.append(expression)
    for item in query.filters:
        sql, params = _filter_sql(item)
        rendered.where.append(f"NOT ({sql})" if item.negated else sql)
        rendered.params.extend(params)
    rendered.match = " AND ".join(positive) or None
    return rendered


def _fts_string(value: str) -> str:
    """An FTS5 string literal: inside double quotes only ``"`` is special, written twice."""
    return '"' + value.replace('"', '""') + '"'


def _contains(value: str) -> str:
    """A LIKE pattern for "contains ``value``", with ``\\``, ``%`` and ``_`` taken literally."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filter_sql(item: Filter) -> tuple[str, list[Any]]:
    """A boolean SQL fragment over alias ``m`` (never NULL, so ``NOT (...)`` negates it
    exactly) and its parameters."""
    if item.field == "from":
        # from_name may be NULL; COALESCE keeps "-from:x" from dropping those messages.
        sql = f"(m.from_address {_LIKE} OR COALESCE(m.from_name, '') {_LIKE})"
        return sql, [_contains(item.value)] * 2
    if item.field == "to":
        # json_each decodes the stored lists, so escaped non-ASCII addresses match too.
        to = _JSON_LIKE.format(column="m.to_addresses")
        cc = _JSON_LIKE.format(column="m.cc_addresses")
        return f"({to} OR {cc})", [_contains(item.value)] * 2
    if item.field == "subject":
        return f"m.subject {_LIKE}", [_contains(item.value)]
    if item.field == "label":
        sql = "EXISTS (SELECT 1 FROM json_each(m.labels) WHERE json_each.value = ?)"
        return sql, [item.value]
    if item.field == "has_attachment":
        return "m.has_attachments = 1", []
    if item.field == "direction":
        return "m.direction = ?", [item.value]
    return f"m.created_at {item.comparison} ?", [item.value]


def search_page(
    store: Store, inbox_id: str, query: SearchQuery, *, limit: int, count_cap: int
) -> tuple[list[MessageRow], int]:
    """The newest ``limit`` messages of an inbox matching ``query``, and how many match
    (counted up to ``count_cap``).

    Raises:
        SearchRefused: FTS5 refused the expression.
    """
    rendered = render(query)
    where: list[str] = ["m.inbox_id = ?"]
    params: list[Any] = [inbox_id]
    if rendered.match is not None:
        where.append("m.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)")
        params.append(rendered.match)
    where.extend(rendered.where)
    params.extend(rendered.params)
    clause = " AND ".join(where)
    try:
        # Counting stops at the cap: an exact count of 30,000 hits for a common word is slow
        # and no caller pages that far.
        total = store.scalar(
            f"SELECT count(*) FROM (SELECT 1 FROM messages m WHERE {clause} LIMIT ?)",
            [*params, count_cap],
        )
        # Sort only the keys, then read the page's rows: sorting whole rows is the slow part.
        page = store.rows(
            f"SELECT m.seq AS seq FROM messages m WHERE {clause} ORDER BY m.seq DESC LIMIT ?",
            [*params, limit],
        )
    except sqlite3.OperationalError as exc:  # an FTS syntax corner the parser let by
        raise SearchRefused(str(exc)) from None
    return messages_at(store, [r["seq"] for r in page]), int(total)


# -- the index -------------------------------------------------------------------------------
def indexed_upto(store: Store) -> int:
    """The highest message ``seq`` in the index (0 when empty)."""
    return int(store.scalar("SELECT rowid FROM messages_fts ORDER BY rowid DESC LIMIT 1") or 0)


def newest_seq(store: Store) -> int:
    """The highest message ``seq`` stored (0 when none)."""
    return int(store.scalar("SELECT max(seq) FROM messages") or 0)


def unindexed(store: Store, after_seq: int, limit: int) -> list[IndexSource]:
    """Up to ``limit`` messages after ``after_seq``, oldest first."""
    # SQLite decodes the address lists itself: no second decoder of message rows in Python.
    rows = store.rows(
        "SELECT seq, subject, body_text, body_html, from_name, from_address, "
        "trim(coalesce((SELECT group_concat(value, ' ') FROM json_each(to_addresses)), '') "
        "|| ' ' || coalesce((SELECT group_concat(value, ' ') FROM json_each(cc_addresses)), '')) "
        "AS recipients FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
        [after_seq, limit],
    )
    return rows  # type: ignore[return-value]  # the SELECT names exactly IndexSource's keys


def add_to_index(conn: sqlite3.Connection, entries: list[tuple[int, str, str, str, str]]) -> None:
    """Index messages: (seq, subject, body, from text, to text) each."""
    conn.executemany(
        "INSERT INTO messages_fts (rowid, subject, body, from_text, to_text) "
        "VALUES (?, ?, ?, ?, ?)",
        entries,
    )

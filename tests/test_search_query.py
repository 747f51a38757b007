"""The search query parser and its SQL rendering against a real in-memory SQLite database
with the real schema."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from mailbot_sandbox.errors import InvalidRequest
from mailbot_sandbox.search.query import parse_query
from mailbot_sandbox.store.search import RenderedSearch as CompiledSearch
from mailbot_sandbox.store.search import render

INBOX = "inb_1"

ALICE = ["alice@example.com"]


@dataclass(frozen=True)
class Msg:
    subject: str  # unique: the tests identify messages by subject
    body: str
    sender: str
    name: str | None
    at: str
    to: list[str] = field(default_factory=lambda: ALICE)
    cc: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    direction: str = "inbound"
    files: int = 0


MESSAGES = [
    Msg("Verify your email address", "Click the link to verify your account.",
        "noreply@accounts.example", "Accounts", "2026-11-20T08:00:00.000Z",
        labels=["verification"]),
    Msg("Reset your password", "Use this code to reset your password: 123456",
        "security@accounts.example", "Security Team", "2026-11-20T23:59:59.999Z",
        labels=["security"]),
    Msg("Weekly digest", "Your weekly digest of the news", "digest@news.example",
        "News Digest", "2026-11-21T00:00:00.000Z", labels=["newsletter"]),
    Msg("Invoice #42", "Please find the invoice attached", "billing@shop.example", "Billing",
        "2026-11-21T12:30:00.000Z", cc=["accounts@alice.example"],
        labels=["billing", "important"], files=1),
    Msg("Grüße aus München", "Viele Grüße und bis bald", "juergen@example.de",
        "Jürgen Müller", "2026-11-22T09:15:00.000Z"),
    Msg("日本からのお知らせ", "東京 日本語 テスト", "tanaka@example.jp", "田中",
        "2026-11-22T10:00:00.000Z"),
    Msg("Re: Lunch tomorrow?", "Sounds good, see you at noon", "alice@example.com", "Alice",
        "2026-11-23T12:00:00.000Z", to=["bob@example.com"], labels=["sent"],
        direction="outbound"),
    Msg("Quarterly report", "Attached is the Q3 report with 100% growth", "alice@example.com",
        "Alice", "2026-11-23T15:00:00.000Z", to=["carol@corp.example"],
        cc=["dave@corp.example"], labels=["sent", "important"], direction="outbound", files=1),
    Msg("Digest settings updated", "You changed how often we send the weekly summary",
        "digest@news.example", "News Digest", "2026-11-24T09:00:00.000Z",
        labels=["newsletter"]),
    Msg("Flash sale: 50% off", "Sale ends soon", "promo@shop.example", "Shop",
        "2026-11-24T18:00:00.000Z", labels=["promo"]),
    Msg("50 percent of readers", "Survey results", "survey@news.example", "Survey",
        "2026-11-24T19:00:00.000Z"),
    Msg("Missing user_id in export", "The export lacks a column", "ops@corp.example", "Ops",
        "2026-11-24T20:00:00.000Z"),
    Msg("New user-id format", "Identifiers changed", "ops@corp.example", "Ops",
        "2026-11-24T21:00:00.000Z"),
    Msg('Tracking: "quoted" shipment', "Your parcel for O'Brien is on its way",
        "shipping@parcel.example", "Parcel Service", "2026-11-25T07:48:57.242Z", to=[],
        cc=["bob@example.com"], files=1),
    Msg("Café menu", "A résumé of the crème brûlée", "chef@bistro.example", "Chef Zoë",
        "2026-11-25T07:48:57.243Z", to=["gäste@bistro.example"], labels=["Kitchen"]),
    Msg("No display name", "System notice", "system@example.org", None,
        "2026-11-26T00:00:00.000Z"),
]  # fmt: skip
ALL = {msg.subject for msg in MESSAGES}
ATTACHED = {"Invoice #42", "Quarterly report", 'Tracking: "quoted" shipment'}
OUTBOUND = {"Re: Lunch tomorrow?", "Quarterly report"}


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.executescript(
        """
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY, inbox_id TEXT, from_address TEXT, from_name TEXT,
            to_addresses TEXT, cc_addresses TEXT, subject TEXT, labels TEXT, direction TEXT,
            created_at TEXT, has_attachments INTEGER
        );
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            subject, body, from_text, to_text, tokenize='unicode61 remove_diacritics 2'
        );
        """
    )
    for msg in MESSAGES:
        # json.dumps escapes non-ASCII (as the store does), so to: must decode the lists.
        seq = connection.execute(
            "INSERT INTO messages (inbox_id, from_address, from_name, to_addresses, cc_addresses,"
            " subject, labels, direction, created_at, has_attachments)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                INBOX,
                msg.sender,
                msg.name,
                json.dumps(msg.to),
                json.dumps(msg.cc),
                msg.subject,
                json.dumps(msg.labels),
                msg.direction,
                msg.at,
                msg.files,
            ),
        ).lastrowid
        connection.execute(
            "INSERT INTO messages_fts (rowid, subject, body, from_text, to_text)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                seq,
                msg.subject,
                msg.body,
                f"{msg.name or ''} {msg.sender}",
                " ".join(msg.to + msg.cc),
            ),
        )
    # A message of another inbox, which the caller's inbox filter must keep out.
    connection.execute(
        "INSERT INTO messages (inbox_id, from_address, to_addresses, cc_addresses, subject,"
        " labels, direction, created_at, has_attachments)"
        " VALUES ('inb_2', 'x@y.example', '[]', '[]', 'Verify elsewhere', '[]', 'inbound',"
        " '2026-11-20T00:00:00.000Z', 1)"
    )
    connection.execute(
        "INSERT INTO messages_fts (rowid, subject) VALUES (last_insert_rowid(), 'Verify elsewhere')"
    )
    yield connection
    connection.close()


def compile_query(query: str) -> CompiledSearch:
    """Parse a search string, then render it as the store runs it."""
    return render(parse_query(query))


def run(db: sqlite3.Connection, compiled: CompiledSearch) -> set[str]:
    """Execute a compiled search the way the API does; return the subjects found."""
    sql = "SELECT m.subject FROM messages m WHERE m.inbox_id = ?"
    params: list[Any] = [INBOX]
    if compiled.match is not None:
        sql += " AND m.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"
        params.append(compiled.match)
    for fragment in compiled.where:
        sql += f" AND ({fragment})"
    params.extend(compiled.params)
    rows = db.execute(sql + " ORDER BY m.seq DESC LIMIT ?", [*params, 100]).fetchall()
    return {row[0] for row in rows}


def search(db: sqlite3.Connection, query: str) -> set[str]:
    return run(db, compile_query(query))


@pytest.mark.parametrize("query", ["", "   ", "\t\n", "- @@ *", '""'])
def test_empty_or_meaningless_query_matches_everything(db: sqlite3.Connection, query: str) -> None:
    compiled = compile_query(query)
    assert compiled == CompiledSearch(match=None, where=[], params=[])
    assert search(db, query) == ALL


def test_compiled_shape() -> None:
    compiled = compile_query('verif "reset your password" -spam say"hi')
    assert compiled.match == '"verif"* AND "reset your password" AND "say""hi"*'
    assert compiled.where == [
        "m.seq NOT IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"
    ]
    assert compiled.params == ['"spam"*']


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("verif", {"Verify your email address"}),
        ("VERIFY", {"Verify your email address"}),
        ("weekly digest", {"Weekly digest", "Digest settings updated"}),
        ("weekly digest sett", {"Digest settings updated"}),
        ('"weekly digest"', {"Weekly digest"}),
        ('"Reset Your Password"', {"Reset your password"}),
        ('"reset password"', set()),
        ("tanaka", {"日本からのお知らせ"}),  # from
        ("carol", {"Quarterly report"}),  # to
        ("dave", {"Quarterly report"}),  # cc
        ("grüße", {"Grüße aus München"}),
        ("munchen", {"Grüße aus München"}),  # diacritics removed
        ("日本", {"日本からのお知らせ"}),
        ("東京", {"日本からのお知らせ"}),
        ("creme brulee", {"Café menu"}),
        ("- @@ * verify", {"Verify your email address"}),
        ("verify\x00 email\t", {"Verify your email address"}),
        ("your:email", {"Verify your email address"}),  # unknown operator: plain text
        ('quoted"', {'Tracking: "quoted" shipment'}),  # a quote inside a word is literal
        ("O'Brien", {'Tracking: "quoted" shipment'}),
        ("NEAR(verify AND) OR", set()),  # FTS5 syntax is only ever text
        ('"reset your', {"Reset your password"}),  # unbalanced quote runs to the end
    ],
)
def test_free_text(db: sqlite3.Connection, query: str, expected: set[str]) -> None:
    assert search(db, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("from:noreply", {"Verify your email address"}),
        ("FROM:security", {"Reset your password"}),
        ("from:Jürgen", {"Grüße aus München"}),  # from_name
        ('from:"security team"', {"Reset your password"}),
        ("to:carol", {"Quarterly report"}),
        ("to:DAVE@corp", {"Quarterly report"}),  # cc
        ("to:gäste", {"Café menu"}),  # stored escaped as \u00e4 in JSON
        ("to:bob", {"Re: Lunch tomorrow?", 'Tracking: "quoted" shipment'}),
        ('to:com"', set()),  # the JSON list's own quotes are not searched
        ('subject:"weekly digest"', {"Weekly digest"}),
        ('Subject:"weekly dig', {"Weekly digest"}),  # unbalanced quote
        ("subject:50%", {"Flash sale: 50% off"}),
        ("subject:user_id", {"Missing user_id in export"}),
        ("subject:\\", set()),
        ("label:important", {"Invoice #42", "Quarterly report"}),
        ("label:Kitchen", {"Café menu"}),
        ("label:kitchen", set()),  # labels are exact
        ("label:import", set()),
        ("has:attachment", ATTACHED),
        ("HAS:Attachments", ATTACHED),
        ("is:outbound", OUTBOUND),
        ("IS:INBOUND", ALL - OUTBOUND),
    ],
)
def test_operators(db: sqlite3.Connection, query: str, expected: set[str]) -> None:
    assert search(db, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("before:2026-11-21", {"Verify your email address", "Reset your password"}),
        ("after:2026-11-24", {'Tracking: "quoted" shipment', "Café menu", "No display name"}),
        ("after:2026-11-21 before:2026-11-23", {"Grüße aus München", "日本からのお知らせ"}),
        ("after:2026-11-25T07:48:57.242Z", {"Café menu", "No display name"}),
        ("after:2026-11-25T08:48:57.242+01:00", {"Café menu", "No display name"}),
        ("after:2026-11-25T07:48:57.2425Z", {"Café menu", "No display name"}),
        (
            "after:2026-11-25T07:48:57.2415Z",
            {'Tracking: "quoted" shipment', "Café menu", "No display name"},
        ),
        ('after:"2026-11-25 07:48:57.242"', {"Café menu", "No display name"}),  # naive = UTC
        ("before:2026-11-20T23:59:59.999Z", {"Verify your email address"}),
        ("before:2026-11-20T23:59:59.9991Z", {"Verify your email address", "Reset your password"}),
        ("after:2026-11-25t07:48:57.242z before:2026-11-26", {"Café menu"}),
        ("after:9999-12-31", set()),
        ("before:0001-01-01", set()),
    ],
)
def test_dates(db: sqlite3.Connection, query: str, expected: set[str]) -> None:
    assert search(db, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("-digest", ALL - {"Weekly digest", "Digest settings updated"}),
        ('-"weekly digest"', ALL - {"Weekly digest"}),
        ("digest -settings", {"Weekly digest"}),
        ('weekly -"weekly digest"', {"Digest settings updated"}),
        ("-from:alice", ALL - OUTBOUND),  # keeps the message whose from_name is NULL
        ("-to:alice", OUTBOUND | {'Tracking: "quoted" shipment', "Café menu"}),
        ('-subject:"your"', ALL - {"Verify your email address", "Reset your password"}),
        ("-label:sent", ALL - OUTBOUND),
        ("-has:attachment", ALL - ATTACHED),
        ("-is:outbound", ALL - OUTBOUND),
        ("-before:2026-11-25", {'Tracking: "quoted" shipment', "Café menu", "No display name"}),
        ("invoice -label:billing", set()),
        ("is:outbound has:attachment -carol", set()),
        ("is:outbound -has:attachment lunch", {"Re: Lunch tomorrow?"}),
    ],
)
def test_negation_and_combinations(db: sqlite3.Connection, query: str, expected: set[str]) -> None:
    assert search(db, query) == expected


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("from:", "from:"),
        ("verify to: x", "to:"),
        ('subject:""', "subject:"),
        ('label:"  "', "label:"),
        ("has:pdf", "'pdf'"),
        ("is:starred", "'starred'"),
        ("before:2026-13-01", "'2026-13-01'"),
        ("after:yesterday", "'yesterday'"),
        ("before:2026-11-25T25:00Z", "'2026-11-25T25:00Z'"),
        ("after:0001-01-01T00:00:00+01:00", "'0001-01-01T00:00:00+01:00'"),
        ("a" * 1001, "1000 characters"),
        (" ".join(["word"] * 51), "50 terms"),
        ("verify \ud800", "Unicode"),
    ],
)
def test_errors_name_the_bad_part(query: str, named: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        compile_query(query)
    assert named in caught.value.message
    assert caught.value.details == {"field": "query"}


def test_limits_are_inclusive(db: sqlite3.Connection) -> None:
    assert search(db, " ".join(["verify"] * 50)) == {"Verify your email address"}
    assert search(db, "verify" + " " * 994) == {"Verify your email address"}


def test_no_user_text_reaches_sql() -> None:
    compiled = compile_query(
        "from:zq' to:zq) subject:zq% label:zq\" is:inbound before:2026-11-20 -zq zq"
    )
    assert not any("zq" in fragment for fragment in compiled.where)
    assert compiled.match == '"zq"*'


PIECES = [
    '"',
    "'",
    ":",
    "-",
    "*",
    "(",
    ")",
    "^",
    " ",
    "  ",
    "\\",
    "%",
    "_",
    "+",
    "{",
    "}",
    ",",
    ".",
    "@",
    "/",
    ";",
    "`",
    "NEAR",
    "NEAR(",
    "AND",
    "OR",
    "NOT",
    "and",
    "from:",
    "to:",
    "subject:",
    "label:",
    "has:",
    "is:",
    "before:",
    "after:",
    "has:attachment",
    "is:inbound",
    "2026-11-2",
    "T00:00Z",
    "+01:00",
    "verify",
    "digest",
    "ü",
    "日本",
    "é",
    "ß",
    "🙂",
    "\u0301",
    "\u200b",
    "\x00",
    "\t",
    "\n",
    "\x7f",
    "\x1b",
    "zq",
    "' OR 1=1 --",
    "DROP TABLE messages",
]


def test_random_queries_compile_and_run_or_are_refused(db: sqlite3.Connection) -> None:
    rng = random.Random(42)
    ran = refused = 0
    for _ in range(2000):
        size = rng.choice([rng.randint(0, 12), rng.randint(0, 40), rng.randint(60, 300)])
        parts = [rng.choice(PIECES) for _ in range(size)]
        if rng.random() < 0.02:  # rare, since one lone surrogate refuses the whole query
            parts.insert(rng.randint(0, size), "\ud800")
        query = "".join(parts)
        try:
            compiled = compile_query(query)
        except InvalidRequest:
            refused += 1
            continue
        # "zq" stands for any user text: it may only travel as a parameter.
        assert not any("zq" in fragment for fragment in compiled.where), query
        assert run(db, compiled) <= ALL, query
        ran += 1
    # Both outcomes must be common, or the generator is not exercising the compiler.
    assert ran > 900
    assert refused > 300

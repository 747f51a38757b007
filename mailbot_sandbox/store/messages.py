"""The ``messages`` table with its ``attachments`` and the ``blobs`` of raw message bytes.

A message row is decoded (its JSON columns turned into lists) in :func:`_message` only, and
raw bytes are read back by :func:`raw_bytes` only.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, TypedDict

from mailbot_sandbox.store.db import Store

_JSON_COLUMNS = (
    "references",
    "to_addresses",
    "cc_addresses",
    "bcc_addresses",
    "reply_to",
    "labels",
)
_COLUMNS = (
    "id",
    "account_id",
    "inbox_id",
    "thread_id",
    "direction",
    "status",
    "message_id_header",
    "in_reply_to",
    "references",
    "from_address",
    "from_name",
    "to_addresses",
    "cc_addresses",
    "bcc_addresses",
    "reply_to",
    "subject",
    "body_text",
    "body_html",
    "labels",
    "size",
    "has_attachments",
    "raw_id",
    "track_opens",
    "track_clicks",
    "created_at",
    "headers",
)
_QUOTED = ", ".join('"' + name + '"' for name in _COLUMNS)  # "references" is a keyword
_INSERT = f"INSERT INTO messages ({_QUOTED}) VALUES ({', '.join('?' * len(_COLUMNS))})"


class MessageRow(TypedDict):
    """A stored copy of a message in one inbox, its address and label lists decoded."""

    seq: int
    id: str
    account_id: str
    inbox_id: str
    thread_id: str
    direction: str
    status: str
    message_id_header: str | None
    in_reply_to: str | None
    references: list[str]
    from_address: str
    from_name: str | None
    to_addresses: list[str]
    cc_addresses: list[str]
    bcc_addresses: list[str]
    reply_to: list[str]
    subject: str
    body_text: str | None
    body_html: str | None
    labels: list[str]
    size: int
    has_attachments: int
    raw_id: int
    track_opens: int
    track_clicks: int
    created_at: str
    # As received, in order; None for a message stored before headers were kept.
    headers: list[tuple[str, str]] | None


class AttachmentInfo(TypedDict):
    """An attachment as a message lists it (without its content)."""

    id: str
    filename: str
    content_type: str
    size: int


class AttachmentRow(AttachmentInfo):
    """An attachment with its content."""

    message_seq: int
    content_id: str | None
    inline: int
    content: bytes


class NewAttachment(TypedDict):
    """An attachment to store with a message."""

    id: str
    filename: str
    content_type: str
    content_id: str | None
    inline: bool
    content: bytes


@dataclass(frozen=True)
class MessageFilter:
    """Which messages of one inbox a listing or a wait wants; None means "any".

    ``after_seq`` and ``created_after``/``created_before`` are exclusive bounds; ``from_address``
    matches case-insensitively, ``subject_contains`` as a case-insensitive substring.
    """

    inbox_id: str
    direction: str | None = None
    thread_id: str | None = None
    label: str | None = None
    from_address: str | None = None
    subject_contains: str | None = None
    after_seq: int | None = None
    created_after: str | None = None
    created_before: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition over ``messages`` and its parameters."""
        where: list[str] = ["inbox_id = ?"]
        params: list[Any] = [self.inbox_id]
        for clause, value in (
            ("direction = ?", self.direction),
            ("thread_id = ?", self.thread_id),
            ("EXISTS (SELECT 1 FROM json_each(labels) WHERE json_each.value = ?)", self.label),
            ("lower(from_address) = lower(?)", self.from_address),
            ("instr(lower(subject), lower(?)) > 0", self.subject_contains),
            ("seq > ?", self.after_seq),
            ("created_at > ?", self.created_after),
            ("created_at < ?", self.created_before),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        return " AND ".join(where), params


def _message(row: dict[str, Any]) -> MessageRow:
    """The one place a stored message row is decoded."""
    for name in _JSON_COLUMNS:
        row[name] = json.loads(row[name])
    if row["headers"] is not None:
        row["headers"] = [tuple(pair) for pair in json.loads(row["headers"])]
    return row  # type: ignore[return-value]  # SELECT * yields exactly MessageRow's keys


# -- inside a write transaction --------------------------------------------------------------
def insert_blob(conn: sqlite3.Connection, raw: bytes) -> int:
    """Keep message bytes exactly as given (copies of one message share them); their id."""
    return int(conn.execute("INSERT INTO blobs (data) VALUES (?)", [raw]).lastrowid or 0)


def insert_message(
    conn: sqlite3.Connection, row: MessageRow, attachments: list[NewAttachment]
) -> int:
    """Store a message copy (``row["seq"]`` is ignored) with its attachments; its ``seq``.

    The lists are encoded here, so the caller's row, already as the API shows it, needs no
    decoding afterwards: the hot paths pay for ``json.dumps`` only.
    """
    values = [
        json.dumps(row[name]) if name in _JSON_COLUMNS else row[name]  # type: ignore[literal-required]
        for name in _COLUMNS
    ]
    if row["headers"] is not None:
        values[-1] = json.dumps(row["headers"])
    seq = int(conn.execute(_INSERT, values).lastrowid or 0)
    if attachments:
        conn.executemany(
            "INSERT INTO attachments (id, message_seq, filename, content_type, size, "
            "content_id, inline, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    a["id"],
                    seq,
                    a["filename"],
                    a["content_type"],
                    len(a["content"]),
                    a["content_id"],
                    int(a["inline"]),
                    a["content"],
                ]
                for a in attachments
            ],
        )
    return seq


def set_status(conn: sqlite3.Connection, message_id: str, status: str) -> None:
    """Record a delivery outcome on a sent message."""
    conn.execute("UPDATE messages SET status = ? WHERE id = ?", [status, message_id])


def set_labels(store: Store, message_id: str, labels: list[str]) -> None:
    """Replace a message's labels."""
    with store.write() as db:
        db.conn.execute(
            "UPDATE messages SET labels = ? WHERE id = ?", [json.dumps(labels), message_id]
        )


# -- reads -----------------------------------------------------------------------------------
def raw_bytes(store: Store, raw_id: int) -> bytes:
    """The bytes of a message as received: the one place they are read back."""
    return bytes(store.scalar("SELECT data FROM blobs WHERE id = ?", [raw_id]))


def get_message(
    store: Store, account_id: str, message_id: str, inbox_id: str | None = None
) -> MessageRow | None:
    """A message of an account (of one inbox, when given), or None."""
    if inbox_id is None:
        row = store.row(
            "SELECT * FROM messages WHERE id = ? AND account_id = ?", [message_id, account_id]
        )
    else:
        row = store.row(
            "SELECT * FROM messages WHERE id = ? AND inbox_id = ? AND account_id = ?",
            [message_id, inbox_id, account_id],
        )
    return _message(row) if row else None


def seq_of(store: Store, account_id: str, message_id: str) -> int | None:
    """The arrival position of a message of an account, or None."""
    seq = store.scalar(
        "SELECT seq FROM messages WHERE id = ? AND account_id = ?", [message_id, account_id]
    )
    return None if seq is None else int(seq)


def thread_messages(store: Store, thread_id: str) -> list[MessageRow]:
    """The messages of a thread, oldest first."""
    return [
        _message(r)
        for r in store.rows("SELECT * FROM messages WHERE thread_id = ? ORDER BY seq", [thread_id])
    ]


def message_page(
    store: Store, match: MessageFilter, *, limit: int, offset: int
) -> tuple[list[MessageRow], int]:
    """One page of the matching messages, newest first, and their total."""
    clause, params = match.where()
    total = store.scalar(f"SELECT count(*) FROM messages WHERE {clause}", params)
    rows = store.rows(
        f"SELECT * FROM messages WHERE {clause} ORDER BY seq DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [_message(r) for r in rows], int(total)


def first_match(store: Store, match: MessageFilter, *, newest: bool) -> MessageRow | None:
    """The newest (or, with ``newest=False``, the earliest) matching message, or None."""
    clause, params = match.where()
    order = "DESC" if newest else "ASC"
    row = store.row(f"SELECT * FROM messages WHERE {clause} ORDER BY seq {order} LIMIT 1", params)
    return _message(row) if row else None


def messages_at(store: Store, seqs: list[int]) -> list[MessageRow]:
    """The messages at these positions, newest first."""
    if not seqs:
        return []
    rows = store.rows(
        f"SELECT * FROM messages WHERE seq IN ({','.join('?' * len(seqs))}) ORDER BY seq DESC",
        seqs,
    )
    return [_message(r) for r in rows]


def attachments_of(store: Store, seqs: list[int]) -> dict[int, list[AttachmentInfo]]:
    """The attachments of each of these messages (by ``seq``), in stored order."""
    if not seqs:
        return {}
    marks = ",".join("?" * len(seqs))
    found: dict[int, list[AttachmentInfo]] = {}
    for item in store.rows(
        f"SELECT id, message_seq, filename, content_type, size FROM attachments "
        f"WHERE message_seq IN ({marks}) ORDER BY rowid",
        seqs,
    ):
        found.setdefault(item["message_seq"], []).append(
            AttachmentInfo(
                id=item["id"],
                filename=item["filename"],
                content_type=item["content_type"],
                size=item["size"],
            )
        )
    return found


def get_attachment(store: Store, message_seq: int, attachment_id: str) -> AttachmentRow | None:
    """One attachment of a message, with its content, or None."""
    row = store.row(
        "SELECT * FROM attachments WHERE id = ? AND message_seq = ?", [attachment_id, message_seq]
    )
    return None if row is None else _attachment(row)


def _attachment(row: dict[str, Any]) -> AttachmentRow:
    return AttachmentRow(
        id=row["id"],
        message_seq=row["message_seq"],
        filename=row["filename"],
        content_type=row["content_type"],
        size=row["size"],
        content_id=row["content_id"],
        inline=row["inline"],
        content=row["content"],
    )


def inline_parts(store: Store, message_seq: int) -> list[AttachmentRow]:
    """The parts of a message that its HTML can name by ``cid:`` (those with a Content-ID),
    with their content."""
    return [
        _attachment(row)
        for row in store.rows(
            "SELECT * FROM attachments WHERE message_seq = ? AND content_id IS NOT NULL "
            "ORDER BY rowid",
            [message_seq],
        )
    ]


class ExportedMessage(TypedDict):
    """What an export needs of a message: where it belongs, its sender, time and bytes."""

    seq: int
    id: str
    inbox_id: str
    address: str
    from_address: str
    created_at: str
    raw_id: int


def export_listing(
    store: Store, account_id: str, inbox_id: str | None = None
) -> list[ExportedMessage]:
    """An account's messages (or one inbox's), oldest first, with their inbox's address."""
    where, params = "m.account_id = ?", [account_id]
    if inbox_id is not None:
        where += " AND m.inbox_id = ?"
        params.append(inbox_id)
    return [
        ExportedMessage(
            seq=row["seq"],
            id=row["id"],
            inbox_id=row["inbox_id"],
            address=row["address"],
            from_address=row["from_address"],
            created_at=row["created_at"],
            raw_id=row["raw_id"],
        )
        for row in store.rows(
            "SELECT m.seq, m.id, m.inbox_id, i.address, m.from_address, m.created_at, m.raw_id "
            f"FROM messages m JOIN inboxes i ON i.id = m.inbox_id WHERE {where} ORDER BY m.seq",
            params,
        )
    ]

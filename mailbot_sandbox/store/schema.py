"""Schema migrations, applied in order at start-up; each one runs once per database."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from mailbot_sandbox.store import schema_events


def _initial(db: sqlite_utils.Database) -> None:
    db.table("accounts").create(
        {"id": str, "key_hash": str, "short_id": str, "clock_offset": float, "created_at": str},
        pk="id",
        not_null={"key_hash", "short_id", "created_at"},
        defaults={"clock_offset": 0.0},
    )
    db.table("accounts").create_index(["key_hash"], unique=True)
    db.table("inboxes").create(
        {
            "id": str,
            "account_id": str,
            "address": str,
            "username": str,
            "display_name": str,
            "domain": str,
            "status": str,
            "permissions": str,
            "daily_send_limit": int,
            "labels": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("account_id", "accounts", "id")],
        not_null={
            "account_id",
            "address",
            "username",
            "domain",
            "status",
            "permissions",
            "daily_send_limit",
            "labels",
            "created_at",
            "updated_at",
        },
    )
    db.table("inboxes").create_index(["address"], unique=True)
    db.table("inboxes").create_index(["account_id", "created_at"])
    db.table("send_counts").create(
        {"inbox_id": str, "day": str, "count": int},
        pk=("inbox_id", "day"),
        foreign_keys=[("inbox_id", "inboxes", "id")],
    )
    db.table("domains").create(
        {
            "id": str,
            "account_id": str,
            "domain": str,
            "status": str,
            "selector": str,
            "dkim_private_key": str,
            "dkim_public_key": str,
            "record_status": str,
            "created_at": str,
            "verified_at": str,
        },
        pk="id",
        foreign_keys=[("account_id", "accounts", "id")],
        not_null={
            "account_id",
            "domain",
            "status",
            "selector",
            "dkim_public_key",
            "record_status",
            "created_at",
        },
    )
    db.table("domains").create_index(["account_id", "domain"], unique=True)
    db.table("dns_records").create(
        {"id": int, "account_id": str, "type": str, "name": str, "value": str, "priority": int},
        pk="id",
        foreign_keys=[("account_id", "accounts", "id")],
    )
    db.table("dns_records").create_index(["account_id", "name"])


def _mail(db: sqlite_utils.Database) -> None:
    # Plain SQL here: FTS5 and AUTOINCREMENT read best as the DDL they are.
    db.executescript(
        """
        CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
        CREATE TABLE threads (
            id TEXT PRIMARY KEY, account_id TEXT NOT NULL,
            inbox_id TEXT NOT NULL REFERENCES inboxes(id),
            subject TEXT NOT NULL, normalized_subject TEXT NOT NULL,
            participants TEXT NOT NULL, message_count INTEGER NOT NULL,
            created_at TEXT NOT NULL, last_message_at TEXT NOT NULL
        );
        CREATE INDEX threads_inbox_last ON threads(inbox_id, last_message_at);
        CREATE INDEX threads_inbox_subject
            ON threads(inbox_id, normalized_subject, last_message_at);
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
            account_id TEXT NOT NULL, inbox_id TEXT NOT NULL REFERENCES inboxes(id),
            thread_id TEXT NOT NULL REFERENCES threads(id),
            direction TEXT NOT NULL, status TEXT NOT NULL,
            message_id_header TEXT, in_reply_to TEXT, "references" TEXT NOT NULL,
            from_address TEXT NOT NULL, from_name TEXT,
            to_addresses TEXT NOT NULL, cc_addresses TEXT NOT NULL, bcc_addresses TEXT NOT NULL,
            reply_to TEXT NOT NULL, subject TEXT NOT NULL, body_text TEXT, body_html TEXT,
            labels TEXT NOT NULL, size INTEGER NOT NULL, has_attachments INTEGER NOT NULL,
            raw_id INTEGER NOT NULL REFERENCES blobs(id),
            track_opens INTEGER NOT NULL DEFAULT 0, track_clicks INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE INDEX messages_inbox_seq ON messages(inbox_id, seq);
        CREATE INDEX messages_inbox_header ON messages(inbox_id, message_id_header);
        CREATE INDEX messages_thread ON messages(thread_id, seq);
        CREATE INDEX messages_account ON messages(account_id, seq);
        CREATE TABLE attachments (
            id TEXT PRIMARY KEY,
            message_seq INTEGER NOT NULL REFERENCES messages(seq) ON DELETE CASCADE,
            filename TEXT NOT NULL, content_type TEXT NOT NULL, size INTEGER NOT NULL,
            content_id TEXT, inline INTEGER NOT NULL, content BLOB NOT NULL
        );
        CREATE INDEX attachments_message ON attachments(message_seq);
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            subject, body, from_text, to_text, tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TABLE captured (
            id TEXT PRIMARY KEY, account_id TEXT NOT NULL, inbox_id TEXT NOT NULL,
            message_id TEXT NOT NULL, mail_from TEXT NOT NULL, recipients TEXT NOT NULL,
            raw_id INTEGER NOT NULL REFERENCES blobs(id), created_at TEXT NOT NULL
        );
        CREATE INDEX captured_account ON captured(account_id, created_at);
        """
    )


def _addresses_per_account(db: sqlite_utils.Database) -> None:
    # A custom-domain address is unique within its account, not across the sandbox, so that
    # parallel test sessions (one account each) can all run an app's own fixed addresses.
    db.executescript(
        """
        DROP INDEX IF EXISTS idx_inboxes_address;
        CREATE UNIQUE INDEX inboxes_account_address ON inboxes(account_id, address);
        CREATE INDEX inboxes_address ON inboxes(address);
        """
    )


def _blob_indexes(db: sqlite_utils.Database) -> None:
    # Erasing and pruning ask "does anything still use this blob?" for each one they drop.
    db.executescript(
        """
        CREATE INDEX messages_raw ON messages(raw_id);
        CREATE INDEX captured_raw ON captured(raw_id);
        """
    )


def _direction_index(db: sqlite_utils.Database) -> None:
    # Waits and searches filter an inbox's mail by direction, newest first.
    db.execute("CREATE INDEX messages_inbox_direction ON messages(inbox_id, direction, seq)")


def _attachment_index(db: sqlite_utils.Database) -> None:
    # has:attachment counts its hits; without this it reads every message of the inbox.
    db.execute(
        "CREATE INDEX messages_inbox_attachments ON messages(inbox_id, has_attachments, seq)"
    )


def _audit_log(db: sqlite_utils.Database) -> None:
    db.table("audit_log").create(
        {
            "id": str,
            "account_id": str,
            "action": str,
            "target_type": str,
            "target_id": str,
            "inbox_id": str,
            "metadata": str,
            "created_at": str,
        },
        pk="id",
        not_null={"account_id", "action", "target_type", "target_id", "metadata", "created_at"},
    )
    # Listed newest first (rowid order) per account; no foreign key: entries outlive what
    # they are about (an erased inbox, a reset account's domains).
    db.execute("CREATE INDEX audit_log_account ON audit_log(account_id)")


def _catch_all(db: sqlite_utils.Database) -> None:
    # Mail the catch-all captures has no sending inbox and no sender's copy to join, so an
    # entry may lack both and keeps its own fields; every entry lists its attachments. The
    # table is rebuilt (SQLite cannot drop NOT NULL), in its old order: listings use rowid.
    attachments = (
        "SELECT json_group_array(json_object('filename', a.filename, 'content_type', "
        "a.content_type, 'size', a.size)) FROM messages m JOIN attachments a "
        "ON a.message_seq = m.seq WHERE m.id = c.message_id"
    )
    for statement in (
        "DROP INDEX captured_account",
        "DROP INDEX captured_raw",
        "ALTER TABLE captured RENAME TO captured_before_catch_all",
        """CREATE TABLE captured (
            id TEXT PRIMARY KEY, account_id TEXT NOT NULL, inbox_id TEXT, message_id TEXT,
            mail_from TEXT NOT NULL, recipients TEXT NOT NULL,
            raw_id INTEGER NOT NULL REFERENCES blobs(id), created_at TEXT NOT NULL,
            subject TEXT, body_text TEXT, body_html TEXT, to_addresses TEXT,
            cc_addresses TEXT, size INTEGER, attachments TEXT NOT NULL DEFAULT '[]'
        )""",
        "INSERT INTO captured (id, account_id, inbox_id, message_id, mail_from, recipients, "
        f"raw_id, created_at, attachments) SELECT c.id, c.account_id, c.inbox_id, "
        f"c.message_id, c.mail_from, c.recipients, c.raw_id, c.created_at, "
        f"COALESCE(({attachments}), '[]') FROM captured_before_catch_all c ORDER BY c.rowid",
        "DROP TABLE captured_before_catch_all",
        "CREATE INDEX captured_account ON captured(account_id, created_at)",
        "CREATE INDEX captured_raw ON captured(raw_id)",
    ):
        db.execute(statement)


def _engagement(db: sqlite_utils.Database) -> None:
    # ``tracking``: the unguessable tokens of a tracked message's pixel and links (a link's
    # token keeps its original URL). ``engagement``: one row per delivered, bounced,
    # complained, opened or clicked event, beside the event itself, so that stats and
    # timelines count typed columns instead of reading event payloads.
    db.executescript(
        """
        CREATE TABLE tracking (
            token TEXT PRIMARY KEY, account_id TEXT NOT NULL, inbox_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            kind TEXT NOT NULL, url TEXT
        );
        CREATE INDEX tracking_message ON tracking(message_id);
        CREATE TABLE engagement (
            seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, account_id TEXT NOT NULL,
            inbox_id TEXT NOT NULL, message_id TEXT NOT NULL, thread_id TEXT,
            type TEXT NOT NULL, url TEXT, created_at TEXT NOT NULL
        );
        CREATE INDEX engagement_account ON engagement(account_id, created_at);
        CREATE INDEX engagement_inbox ON engagement(inbox_id, created_at);
        CREATE INDEX engagement_message ON engagement(message_id, seq);
        """
    )


def _faults(db: sqlite_utils.Database) -> None:
    # One row per inbox with a fault injected through the control plane; looked up by
    # primary key on every send, so an inbox without one costs a single index probe.
    db.execute(
        """
        CREATE TABLE faults (
            inbox_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, fail_next INTEGER NOT NULL,
            status INTEGER NOT NULL, smtp_code INTEGER NOT NULL, retry_after INTEGER NOT NULL,
            latency_ms INTEGER NOT NULL, applies_to TEXT NOT NULL, created_at TEXT NOT NULL
        )
        """
    )


def _message_headers(db: sqlite_utils.Database) -> None:
    # Each message's headers as received, in order: [[name, value], ...] (JSON). Messages
    # stored before have none here; their headers are read from their bytes when asked for.
    db.execute("ALTER TABLE messages ADD COLUMN headers TEXT")


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _initial),
    ("0002_mail", _mail),
    ("0003_addresses_per_account", _addresses_per_account),
    ("0004_blob_indexes", _blob_indexes),
    ("0005_direction_index", _direction_index),
    ("0006_attachment_index", _attachment_index),
    ("0007_events", schema_events.events),
    ("0008_audit_log", _audit_log),
    ("0009_catch_all", _catch_all),
    ("0010_engagement", _engagement),
    ("0011_faults", _faults),
    ("0012_message_headers", _message_headers),
    ("0013_webhook_fan_out", schema_events.webhook_fan_out),
    ("0014_event_positions", schema_events.event_positions),
]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration this database has not seen yet; returns the names applied."""
    if "migrations" not in db.table_names():
        db.table("migrations").create({"name": str, "applied_at": str}, pk="name")
    done = {row["name"] for row in db.table("migrations").rows}
    applied = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with db.atomic():
            step(db)
            db.table("migrations").insert({"name": name, "applied_at": _now()})
        applied.append(name)
    return applied


def _now() -> str:
    from datetime import UTC, datetime

    from mailbot_sandbox.ids import format_time

    return format_time(datetime.now(UTC))

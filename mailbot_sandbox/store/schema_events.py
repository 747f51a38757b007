"""The schema steps of events, webhooks and their delivery queue (see ``schema.py``)."""

from __future__ import annotations

import sqlite_utils


def events(db: sqlite_utils.Database) -> None:
    # Events, webhooks and their delivery queue. (The trigger that fanned each new event out
    # to its webhooks is gone since 0013: the dispatcher does that now; 0014 gave events a
    # position that is never reused.)
    # ``events`` of a webhook is stored as ",message.sent,inbox.updated," so that a search for
    # on ",<type>," matches one name; times to compare are Unix seconds (REAL).
    db.executescript(
        """
        CREATE TABLE events (
            id TEXT PRIMARY KEY, account_id TEXT NOT NULL, inbox_id TEXT,
            type TEXT NOT NULL, message_id TEXT, thread_id TEXT,
            data TEXT NOT NULL, created_at TEXT NOT NULL
        );
        CREATE INDEX events_account ON events(account_id, id);
        CREATE TABLE webhooks (
            id TEXT PRIMARY KEY, account_id TEXT NOT NULL, url TEXT NOT NULL,
            events TEXT NOT NULL, inbox_id TEXT, secret TEXT NOT NULL,
            active INTEGER NOT NULL, created_at TEXT NOT NULL
        );
        CREATE INDEX webhooks_account ON webhooks(account_id, created_at);
        CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY, webhook_id TEXT NOT NULL, event_id TEXT NOT NULL,
            url TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
            next_attempt_at REAL, claimed_until REAL, created_at TEXT NOT NULL
        );
        CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
        CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, created_at);
        CREATE TABLE webhook_attempts (
            id INTEGER PRIMARY KEY, delivery_id TEXT NOT NULL, attempt INTEGER NOT NULL,
            status_code INTEGER, latency_ms REAL NOT NULL, error TEXT,
            next_attempt_at TEXT, created_at TEXT NOT NULL
        );
        CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, attempt);
        CREATE TRIGGER events_fan_out AFTER INSERT ON events
        WHEN EXISTS (SELECT 1 FROM webhooks WHERE account_id = NEW.account_id)
        BEGIN
            INSERT INTO webhook_deliveries
                (id, webhook_id, event_id, url, status, attempts, next_attempt_at,
                 created_at)
            SELECT 'dlv_' || lower(hex(randomblob(10))), w.id, NEW.id, w.url, 'pending', 0,
                   (julianday('now') - 2440587.5) * 86400.0, NEW.created_at
            FROM webhooks AS w
            WHERE w.account_id = NEW.account_id AND w.active = 1
              AND (w.inbox_id IS NULL OR w.inbox_id = NEW.inbox_id)
              AND instr(w.events, ',' || NEW.type || ',') > 0;
        END;
        """
    )


def webhook_fan_out(db: sqlite_utils.Database) -> None:
    # The webhook dispatcher fans events out to their webhooks itself, many at a time, from
    # the position in the event log it last reached: the trigger of 0007 did it inside the
    # transaction that stored the mail, and three subscribers cost that transaction more
    # than the mail did. Events already in the log were fanned out by the trigger.
    # Deliveries that are done leave the due index (only pending ones are ever looked for).
    db.executescript(
        """
        DROP TRIGGER events_fan_out;
        CREATE TABLE webhook_fan_out (
            id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL
        );
        INSERT INTO webhook_fan_out (id, position)
            SELECT 1, coalesce(max(rowid), 0) FROM events;
        DROP INDEX webhook_deliveries_due;
        CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(next_attempt_at)
            WHERE status = 'pending';
        """
    )


def event_positions(db: sqlite_utils.Database) -> None:
    # An event's position (its rowid) is where live streams and the webhook fan-out resume
    # from. Without AUTOINCREMENT, erasing the newest events let the next one take a rowid
    # at or behind a position already passed, and nobody saw it. The table is rebuilt with
    # the same rows at the same positions.
    for statement in (
        """
        CREATE TABLE events_positioned (
            position INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
            account_id TEXT NOT NULL, inbox_id TEXT, type TEXT NOT NULL, message_id TEXT,
            thread_id TEXT, data TEXT NOT NULL, created_at TEXT NOT NULL
        )
        """,
        """
        INSERT INTO events_positioned (position, id, account_id, inbox_id, type, message_id,
            thread_id, data, created_at)
        SELECT rowid, id, account_id, inbox_id, type, message_id, thread_id, data, created_at
        FROM events ORDER BY rowid
        """,
        "DROP TABLE events",
        "ALTER TABLE events_positioned RENAME TO events",
        "CREATE INDEX events_account ON events(account_id, id)",
    ):
        db.execute(statement)

"""Schema migrations, applied in order at start-up; each one runs once per database."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


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


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _initial),
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

"""The JSON shape of every object, each written by exactly one function."""

from __future__ import annotations

from typing import Any

INBOX_KEYS = (
    "id",
    "account_id",
    "address",
    "username",
    "display_name",
    "domain",
    "status",
    "permissions",
    "daily_send_limit",
    "sends_today",
    "created_at",
    "updated_at",
    "labels",
    "message_count",
    "thread_count",
)


def inbox_json(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row.get(key, 0 if key.endswith("_count") else None) for key in INBOX_KEYS}


def domain_json(row: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "account_id": row["account_id"],
        "domain": row["domain"],
        "status": row["status"],
        "dns_records": records,
        "created_at": row["created_at"],
        "verified_at": row["verified_at"],
    }

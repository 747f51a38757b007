"""The JSON shape of every object, each written by exactly one function."""

from __future__ import annotations

from collections.abc import Mapping
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


def inbox_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: row.get(key, 0 if key.endswith("_count") else None) for key in INBOX_KEYS}


def domain_json(row: Mapping[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "account_id": row["account_id"],
        "domain": row["domain"],
        "status": row["status"],
        "dns_records": records,
        "created_at": row["created_at"],
        "verified_at": row["verified_at"],
    }


def message_json(row: dict[str, Any], attachments: list[dict[str, Any]]) -> dict[str, Any]:
    data = {
        "id": row["id"],
        "inbox_id": row["inbox_id"],
        "thread_id": row["thread_id"],
        "message_id_header": row["message_id_header"],
        "from_address": row["from_address"],
        "from_name": row["from_name"],
        "to_addresses": row["to_addresses"],
        "cc_addresses": row["cc_addresses"],
        "reply_to": row["reply_to"],
        "subject": row["subject"],
        "body_text": row["body_text"],
        "body_html": row["body_html"],
        "direction": row["direction"],
        "status": row["status"],
        "in_reply_to": row["in_reply_to"],
        "references": row["references"],
        "labels": row["labels"],
        "attachments": attachments,
        "size": row["size"],
        "created_at": row["created_at"],
    }
    if row["direction"] == "outbound":
        data["bcc_addresses"] = row["bcc_addresses"]
    return data


def thread_json(
    row: Mapping[str, Any], messages: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    data = {
        "id": row["id"],
        "inbox_id": row["inbox_id"],
        "subject": row["subject"],
        "last_message_at": row["last_message_at"],
        "message_count": row["message_count"],
        "labels": row["labels"],
        "participants": row["participants"],
        "created_at": row["created_at"],
    }
    if messages is not None:
        data["messages"] = messages
    return data

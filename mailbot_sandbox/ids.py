"""Identifiers and timestamps, in the one format the API serializes."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    """A fresh random id such as ``inb_3k9x...`` (prefix without the underscore): 20
    lowercase base32 characters, 100 random bits."""
    # One urandom read and a base32 encode: a choice() per character cost 0.1 ms an id.
    return f"{prefix}_{base64.b32encode(os.urandom(15)).decode().lower()[:20]}"


def format_time(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``: ``2026-01-02T03:04:05.678Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime | None:
    """Parse an ISO-8601 time (``Z`` or offset, or a bare date); None when it is not one."""
    text = text.strip()
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)

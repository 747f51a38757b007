"""Identifiers and timestamps, in the one format the API serializes."""

from __future__ import annotations

import os
from datetime import UTC, datetime

# Each random byte picks one of 32 characters (its low five bits): the same lowercase base32
# alphabet as before, in one translate() instead of base64's pure-Python encoder.
_BASE32 = bytes(b"abcdefghijklmnopqrstuvwxyz234567"[byte & 31] for byte in range(256))


def new_id(prefix: str) -> str:
    """A fresh random id such as ``inb_3k9x...`` (prefix without the underscore): 20
    lowercase base32 characters, 100 random bits."""
    return f"{prefix}_{os.urandom(20).translate(_BASE32).decode()}"


def format_time(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``: ``2026-01-02T03:04:05.678Z``."""
    m = moment.astimezone(UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
        f"{m.microsecond // 1000:03d}Z"
    )


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

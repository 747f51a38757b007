"""Identifiers, API key formats and timestamps, in the one format the API serializes."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime

# Each random byte picks one of 32 characters (its low five bits): the same lowercase base32
# alphabet as before, in one translate() instead of base64's pure-Python encoder.
_ALPHABET = b"234567abcdefghijklmnopqrstuvwxyz"  # in ASCII order, so ids sort by time
_BASE32 = bytes(_ALPHABET[byte & 31] for byte in range(256))


def new_id(prefix: str) -> str:
    """A fresh id such as ``msg_bod6u53m4...`` (prefix without the underscore): 20 lowercase
    base32 characters, the first 9 the time in milliseconds, the other 11 random (55 bits).

    Ids made later sort later, so new rows land at the end of the id indexes, next to the
    previous ones, instead of on a random page of a large index."""
    ms = time.time_ns() // 1_000_000
    stamp = bytes(_ALPHABET[(ms >> shift) & 31] for shift in range(40, -1, -5))
    return f"{prefix}_{stamp.decode()}{os.urandom(11).translate(_BASE32).decode()}"


def id_pattern(prefix: str) -> str:
    """The regular expression every id :func:`new_id` makes with ``prefix`` matches, in the
    dialect Python and JSON Schema share (so the API document can state it)."""
    return rf"^{prefix}_[2-7a-z]{{20}}$"


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


_KEY_RE = re.compile(r"^mb_[A-Za-z0-9_-]{1,200}$")


def is_well_formed_key(key: str) -> bool:
    """True for ``mb_`` followed by 1-200 letters, digits, ``-`` or ``_``."""
    return bool(_KEY_RE.match(key))

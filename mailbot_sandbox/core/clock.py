"""Each account's clock: real UTC time plus an offset the control plane can move.

Daily send limits and the thread subject window follow this clock, so a test can jump to
tomorrow without waiting for it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailbot_sandbox.store import Store, accounts


class Clock:
    """Per-account time; offsets are kept in the store and read from it each time (an
    indexed read), so every process sharing the database follows a move at once."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def offset(self, account_id: str) -> float:
        """Seconds this account's clock runs ahead of real time."""
        return accounts.clock_offset(self._store, account_id)

    def now(self, account_id: str) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset(account_id))

    def set_offset(self, account_id: str, seconds: float) -> None:
        accounts.set_clock_offset(self._store, account_id, seconds)


def utc_day(moment: datetime) -> str:
    """The UTC calendar day of a moment, ``YYYY-MM-DD``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def seconds_to_midnight(moment: datetime) -> int:
    """Whole seconds (rounded up, at least 1) from ``moment`` to the next UTC midnight."""
    moment = moment.astimezone(UTC)
    midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - moment).total_seconds() + 0.999))

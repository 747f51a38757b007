"""Retention: prune old mail by age and by message count per inbox.

A long-running sandbox (a container beside an app in development) would otherwise grow
forever. Two rules, each off at 0:

- ``retention_days``: a message older than this many days of its account's clock goes. The
  account clock is the one the control plane moves, so a test can age its mail on purpose.
- ``retention_max_messages``: each inbox keeps only its newest N messages (by arrival order).

A message is removed with everything that belongs to it, in one transaction: its attachments,
its full-text row, the capture of an outbound message, its thread's counters (an emptied
thread goes too) and its raw bytes unless another copy of the message still uses them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from mailbot_sandbox.config import Config
from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.ids import format_time
from mailbot_sandbox.metrics import Metrics
from mailbot_sandbox.store import Store, accounts, upkeep

log = logging.getLogger("mailbot_sandbox.runtime.retention")


@dataclass(frozen=True)
class PruneResult:
    """How many messages one run removed, and why (a message old *and* surplus counts once,
    as old)."""

    by_age: int = 0
    by_count: int = 0
    threads: int = 0

    @property
    def messages(self) -> int:
        return self.by_age + self.by_count


class Retention:
    """Applies the retention rules of a :class:`Config` to a store.

    :meth:`prune` runs once; :meth:`start` runs it every ``retention_interval`` seconds on a
    background thread (the :class:`~mailbot_sandbox.Sandbox` owns it) until :meth:`stop`.
    What it prunes is counted in ``metrics`` when given.
    """

    def __init__(
        self, store: Store, clock: Clock, config: Config, metrics: Metrics | None = None
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self.max_age_days = config.retention_days
        self.max_messages = config.retention_max_messages
        self.interval = config.retention_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """True when at least one rule is on."""
        return bool(self.max_age_days or self.max_messages)

    # -- one run ---------------------------------------------------------------------------------
    def prune(self) -> PruneResult:
        """Remove every message the rules reject, consistently, in one transaction."""
        if not self.enabled:
            return PruneResult()
        with self._store.write() as db:
            cutoffs = {}
            if self.max_age_days:
                for account_id in accounts.all_account_ids(self._store):
                    cutoff = self._clock.now(account_id) - timedelta(days=self.max_age_days)
                    cutoffs[account_id] = format_time(cutoff)
            counts = upkeep.prune(db.conn, cutoffs, self.max_messages)
        if not counts.by_age and not counts.by_count:
            return PruneResult()
        result = PruneResult(by_age=counts.by_age, by_count=counts.by_count, threads=counts.threads)
        if self._metrics is not None:
            self._metrics.retention_pruned_messages.inc(result.messages)
        log.info(
            "retention pruned %d messages (%d older than %d days, %d over %d per inbox), "
            "%d empty threads",
            result.messages,
            result.by_age,
            self.max_age_days,
            result.by_count,
            self.max_messages,
            result.threads,
        )
        return result

    # -- the background thread -------------------------------------------------------------------
    def start(self) -> None:
        """Prune now and then every ``interval`` seconds; does nothing when no rule is on."""
        if not self.enabled or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mailbot-retention", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.prune()
            except Exception:  # keep the thread alive: the next run may well succeed
                log.exception("retention run failed")
            self._stop.wait(self.interval)

    def stop(self) -> None:
        """Stop the thread, after the run in progress (if any) has committed."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

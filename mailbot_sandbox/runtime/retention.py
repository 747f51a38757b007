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
import sqlite3
import threading
from dataclasses import dataclass
from datetime import timedelta

from mailbot_sandbox.config import Config
from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.core.maintenance import drop_unused_blobs, erase_messages
from mailbot_sandbox.ids import format_time
from mailbot_sandbox.metrics import Metrics
from mailbot_sandbox.store import Store

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
            conn = db.conn
            conn.execute("DROP TABLE IF EXISTS temp.retention_victims")
            conn.execute(
                "CREATE TEMP TABLE retention_victims "
                "(seq INTEGER PRIMARY KEY, reason TEXT NOT NULL)"
            )
            if self.max_age_days:
                accounts = [row[0] for row in conn.execute("SELECT id FROM accounts")]
                for account_id in accounts:
                    cutoff = self._clock.now(account_id) - timedelta(days=self.max_age_days)
                    conn.execute(
                        "INSERT OR IGNORE INTO temp.retention_victims (seq, reason) "
                        "SELECT seq, 'age' FROM messages WHERE account_id = ? AND created_at < ?",
                        [account_id, format_time(cutoff)],
                    )
            if self.max_messages:
                conn.execute(
                    "INSERT OR IGNORE INTO temp.retention_victims (seq, reason) "
                    "SELECT seq, 'count' FROM (SELECT seq, ROW_NUMBER() OVER "
                    "(PARTITION BY inbox_id ORDER BY seq DESC) AS position FROM messages) "
                    "WHERE position > ?",
                    [self.max_messages],
                )
            by_reason = dict(
                conn.execute(
                    "SELECT reason, count(*) FROM temp.retention_victims GROUP BY reason"
                ).fetchall()
            )
            if not by_reason:
                conn.execute("DROP TABLE temp.retention_victims")
                return PruneResult()
            threads = _delete_victims(conn)
        result = PruneResult(
            by_age=by_reason.get("age", 0),
            by_count=by_reason.get("count", 0),
            threads=threads,
        )
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


def _delete_victims(conn: sqlite3.Connection) -> int:
    """Delete the messages listed in ``temp.retention_victims`` and what hangs off them.

    The erasing itself is the control plane's (:func:`~mailbot_sandbox.core.maintenance.
    erase_messages`: search rows, attachments, unused bytes); what is left to do here is what
    only a partial removal has: captures of pruned messages and the counters of the threads
    that keep some of their messages. Returns how many (emptied) threads were removed.
    """
    victims = "SELECT seq FROM temp.retention_victims"
    conn.execute("DROP TABLE IF EXISTS temp.retention_threads")
    conn.execute(
        "CREATE TEMP TABLE retention_threads AS "
        f"SELECT DISTINCT thread_id AS id FROM messages WHERE seq IN ({victims})"
    )
    captured = conn.execute(
        f"SELECT raw_id FROM captured WHERE message_id IN "
        f"(SELECT id FROM messages WHERE seq IN ({victims}))"
    ).fetchall()
    conn.execute(
        f"DELETE FROM captured WHERE message_id IN (SELECT id FROM messages WHERE seq IN "
        f"({victims}))"
    )
    erase_messages(conn, f"seq IN ({victims})", [])
    drop_unused_blobs(conn, [row[0] for row in captured])
    conn.execute(
        "UPDATE threads SET "
        "message_count = (SELECT count(*) FROM messages m WHERE m.thread_id = threads.id), "
        "last_message_at = coalesce((SELECT max(created_at) FROM messages m "
        "WHERE m.thread_id = threads.id), last_message_at) "
        "WHERE id IN (SELECT id FROM temp.retention_threads)"
    )
    threads = conn.execute(
        "DELETE FROM threads WHERE id IN (SELECT id FROM temp.retention_threads) "
        "AND message_count = 0"
    ).rowcount
    for table in ("retention_victims", "retention_threads"):
        conn.execute(f"DROP TABLE temp.{table}")
    return int(threads)

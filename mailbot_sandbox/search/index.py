"""The full-text index, kept up to date behind the mail rather than in its way.

Indexing a message with FTS5 costs about as much as storing it, so storing no longer does it:
this indexer adds every message newer than the highest one indexed, when new mail pauses (or
at the latest ``max_delay`` seconds after it starts arriving). A search first brings the index
up to date itself, so it never misses a message; and since everything indexed is read back
from the ``messages`` rows, nothing is lost if the process stops with the index behind: the
next start catches up.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

from mailbot_sandbox.mail.text import html_to_text
from mailbot_sandbox.store import Store, search
from mailbot_sandbox.store.search import IndexSource

BATCH = 200  # rows per transaction: writers wait at most one batch
log = logging.getLogger("mailbot_sandbox.search")


def _row_text(row: IndexSource) -> tuple[int, str, str, str, str]:
    body = " ".join(filter(None, [row["body_text"], html_to_text(row["body_html"] or "") or None]))
    return (
        row["seq"],
        row["subject"],
        body,
        f"{row['from_name'] or ''} {row['from_address']}",
        row["recipients"],
    )


class SearchIndex:
    """Owns ``messages_fts``: :meth:`catch_up` before reading it, :meth:`notify` after mail."""

    def __init__(
        self, store: Store, quiet: float = 0.3, max_delay: float = 30.0, *, background: bool = True
    ) -> None:
        self._store = store
        self._quiet = quiet
        self._max_delay = max_delay
        self._lock = threading.Lock()
        self._mail = threading.Event()
        self._woken = False
        self._last_mail = 0.0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        if background:  # off in all but one process of several sharing the database
            self._mail.set()  # catch up on whatever an earlier run left unindexed
            self._thread = threading.Thread(target=self._run, name="mailbot-index", daemon=True)
            self._thread.start()

    def notify(self) -> None:
        """New messages were committed.

        Cheap on purpose: only the first mail after a pause wakes the indexer thread; during
        a burst this just notes the time (waking a thread per message costs two GIL
        handoffs, more than indexing the message later)."""
        self._last_mail = time.monotonic()
        if not self._woken:
            self._woken = True
            self._mail.set()

    def catch_up(self) -> int:
        """Index every message not indexed yet; returns how many were added."""
        return self._catch_up(background=False)

    def _indexed(self) -> int:
        return search.indexed_upto(self._store)

    def _catch_up(self, *, background: bool) -> int:
        added = 0
        with self._lock:
            while not (background and self._stopping.is_set()):
                newest = search.newest_seq(self._store)
                if newest <= self._indexed():
                    return added
                # Where the index ends is read again under the write lock: another process
                # sharing the database may have indexed these rows meanwhile.
                with self._store.write() as db:
                    rows = search.unindexed(self._store, self._indexed(), BATCH)
                    search.add_to_index(db.conn, [_row_text(row) for row in rows])
                added += len(rows)
        return added

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._mail.wait()
            if self._stopping.is_set():
                return
            # Let a burst finish first: while mail streams in, the index waits (bounded).
            started = time.monotonic()
            while not self._stopping.is_set():
                now = time.monotonic()
                paused = now - self._last_mail
                if paused >= self._quiet or now - started >= self._max_delay:
                    break
                self._stopping.wait(self._quiet - paused)
            self._mail.clear()
            self._woken = False  # mail from here on starts the next round
            try:
                self._catch_up(background=True)
            except sqlite3.Error:  # the store went away under us; a search will catch up
                log.warning("search index could not catch up", exc_info=True)

    def close(self) -> None:
        self._stopping.set()
        self._mail.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

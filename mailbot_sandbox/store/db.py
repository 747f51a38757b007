"""The one gateway to SQLite.

Every thread (HTTP workers, the SMTP loop, webhook workers) shares one connection behind a
re-entrant lock: SQLite serializes writers anyway, and a single connection keeps ``:memory:``
databases and read-your-writes simple. Writes go through :meth:`Store.write`, which is a
sqlite-utils ``atomic()`` block: all or nothing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from mailbot_sandbox.errors import ConfigError
from mailbot_sandbox.store.schema import migrate

Params = Sequence[Any] | dict[str, Any]


class Store:
    """Owns the SQLite connection; open with a path or ``":memory:"``.

    Raises:
        ConfigError: the database file cannot be created or opened.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            folder = Path(path).expanduser().resolve().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot create data folder {folder}: {exc.strerror}") from None
            if not os.access(folder, os.W_OK):
                raise ConfigError(f"data folder {folder} is not writable")
        try:
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"cannot open database {path}: {exc}") from None
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.lock = threading.RLock()
        with self.lock:
            migrate(self.db)
        self._checkpointer: _Checkpointer | None = None
        if path != ":memory:":
            # Checkpoints (the only fsyncs under synchronous=NORMAL) move off the commit path:
            # inline, every thousandth commit stalled for tens of milliseconds.
            conn.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = _Checkpointer(path)
            self._checkpointer.start()

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A transaction: commits when the block ends, rolls back if it raises."""
        with self.lock, self.db.atomic():
            yield self.db

    def rows(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """Run a read query and return every row as a dict."""
        with self.lock:
            cursor = self.conn.execute(sql, params)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def row(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        """The first row of a read query, or None."""
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None."""
        with self.lock:
            result = self.conn.execute(sql, params).fetchone()
        return result[0] if result else None

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self.lock:
            if self._checkpointer is not None:
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.close()


class _Checkpointer(threading.Thread):
    """Copies the WAL into the database file every second, on a connection of its own, so
    writers never wait for it (a PASSIVE checkpoint takes no lock a writer needs)."""

    def __init__(self, path: str, interval: float = 1.0) -> None:
        super().__init__(name="mailbot-checkpoint", daemon=True)
        self._path = path
        self._interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=30)
        try:
            while not self._stopping.wait(self._interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    continue  # busy now; the next round catches up
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=10)

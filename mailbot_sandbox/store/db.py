"""The one gateway to SQLite.

Every thread (HTTP workers, the SMTP loop, webhook workers) shares one connection behind a
re-entrant lock: SQLite serializes writers anyway, and a single connection keeps ``:memory:``
databases and read-your-writes simple. Writes go through :meth:`Store.write`, which is a
sqlite-utils ``atomic()`` block: all or nothing.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from mailbot_sandbox.errors import ConfigError
from mailbot_sandbox.store.schema import migrate

Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")


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
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        if path != ":memory:":
            # A second connection for reads that need only committed data (routing mail):
            # under WAL it never waits for a writer, and it sees other processes' commits.
            self._reader = sqlite3.connect(path, check_same_thread=False, timeout=30)
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

    def committed_rows(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """Like :meth:`rows`, but reads only committed data, without waiting for writers
        (on a file database; in memory it is :meth:`rows`)."""
        if self._reader is None:
            return self.rows(sql, params)
        with self._reader_lock:
            cursor = self._reader.execute(sql, params)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None."""
        with self.lock:
            result = self.conn.execute(sql, params).fetchone()
        return result[0] if result else None

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        if self._reader is not None:
            with self._reader_lock:
                self._reader.close()
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


class BatchWriter:
    """One thread that runs write jobs, committing together the jobs that queue up meanwhile.

    A job does its writes inside ``Store.write()``, which nests as a savepoint here, so a
    failing job rolls back alone. Its future
    resolves only after the shared COMMIT: a caller answering on it (an SMTP 250) never
    acknowledges what is not on disk. Readers use the same locked connection or a
    committed-only one, so nothing a job wrote is seen before that commit either.
    """

    def __init__(self, store: Store, name: str, max_batch: int = 64) -> None:
        self._store = store
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Queue ``job`` (it uses the store as usual); its result arrives after the commit."""
        future: Future[T] = Future()
        self._jobs.put((job, future))
        return future

    def _run(self) -> None:
        while (first := self._jobs.get()) is not None:
            batch = [first]
            stopping = False
            while len(batch) < self._max_batch:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)
            if stopping:
                break

    def _commit(self, batch: list[tuple[Callable[[], Any], Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self._store.write():
                for job, future in batch:
                    try:  # a job writes inside its own Store.write(): a savepoint here
                        outcomes.append((future, job(), None))
                    except Exception as exc:  # handed to that job's caller
                        outcomes.append((future, None, exc))
        except Exception as exc:  # the commit itself failed: nothing of the batch is stored
            for _, future in batch:
                future.set_exception(exc)
            return
        for future, value, error in outcomes:
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)

    def close(self) -> None:
        """Finish every queued job, then stop the thread."""
        self._jobs.put(None)
        self._thread.join(timeout=30)

"""The one gateway to SQLite.

Every thread of a process (the HTTP server's, the SMTP loop, retention) shares one
connection behind a re-entrant lock: SQLite serializes writers anyway, and a single
connection keeps ``:memory:`` databases and read-your-writes simple. Writes go through
:meth:`Store.write`: all or nothing, and serialized with any other sandbox process using the
same database file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from mailbot_sandbox.errors import ConfigError
from mailbot_sandbox.store.schema import migrate

try:
    import fcntl
except ImportError:  # Windows: one process per database file (see runtime/processes)
    fcntl = None  # type: ignore[assignment]

Params = Sequence[Any] | dict[str, Any]

# The size the WAL file is held to: whichever connection starts the WAL over cuts the file
# back to this, and the checkpointer empties it when it grows past it.
WAL_LIMIT = 64 * 1024 * 1024
TRUNCATE_WAIT_MS = 200  # how long an emptying checkpoint waits for readers before giving up
T = TypeVar("T")


class Store:
    """Owns the SQLite connection; open with a path or ``":memory:"``.

    Raises:
        ConfigError: the database file cannot be created or opened.
    """

    def __init__(self, path: str, *, checkpoint: bool = True) -> None:
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
        conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        # Savepoint and statement journals in memory: on disk each write transaction
        # created, wrote and unlinked a temporary file.
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA foreign_keys=ON")
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.lock = threading.RLock()
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []  # of the open transaction
        self._owner: int | None = None  # the thread whose write transaction is open
        self._writers = threading.Lock()  # one write transaction of this process at a time
        self._process_lock: ProcessLock | _NoProcessLock = (
            _NoProcessLock() if path == ":memory:" or fcntl is None else ProcessLock(f"{path}.lock")
        )
        with self.lock:
            self._process_lock.acquire()
            try:
                migrate(self.db)
            finally:
                self._process_lock.release()
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
            if checkpoint:  # one process of several sharing the file does it for all
                self._checkpointer = _Checkpointer(path)
                self._checkpointer.start()

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A transaction: commits when the block ends, rolls back if it raises.

        Nested blocks (in the same thread) are savepoints: an inner block that raises undoes
        only its own writes. The outermost block waits for this process's other writers, then
        for the other processes sharing the database file (an ``flock``, so they queue for it
        instead of backing off in SQLite's busy handler, which sleeps in steps of up to
        100 ms), and only then takes the connection: while it waits, this process's readers
        carry on. It begins with ``BEGIN IMMEDIATE``.
        """
        if self._owner == threading.get_ident():
            yield from self._savepoint()
            return
        with self._writers:
            self._process_lock.acquire()
            try:
                hooks = yield from self._owned_transaction()
            finally:
                self._process_lock.release()
        for hook in hooks:
            hook()

    @contextmanager
    def write_nowait(self, *, reserved: bool = False) -> Iterator[sqlite_utils.Database | None]:
        """Like :meth:`write` (outermost only), but yields None at once, and writes nothing,
        when another writer (of this process or another) holds the write lock: an event loop
        must not block on it. With ``reserved`` the lock was taken by :meth:`reserve` (in
        another thread, which waited for it), and this transaction uses and releases it."""
        if self._owner == threading.get_ident():
            raise RuntimeError("write_nowait() cannot be nested")
        if not reserved:
            if not self._writers.acquire(blocking=False):
                yield None
                return
            if not self._process_lock.acquire(blocking=False):
                self._writers.release()
                yield None
                return
        try:
            hooks = yield from self._owned_transaction()
        finally:
            self._process_lock.release()
            self._writers.release()
        for hook in hooks:
            hook()

    def reserve(self) -> None:
        """Wait until this process may write, and take the write lock for a transaction that
        another thread then opens with ``write_nowait(reserved=True)`` (or gives back with
        :meth:`unreserve`): so an event loop has a thread wait for the lock instead of
        polling for it."""
        self._writers.acquire()
        try:
            self._process_lock.acquire()
        except BaseException:
            self._writers.release()
            raise

    def unreserve(self) -> None:
        """Give back the write lock :meth:`reserve` took, unused."""
        self._process_lock.release()
        self._writers.release()

    def _savepoint(self) -> Iterator[sqlite_utils.Database]:
        conn = self.conn
        self._depth += 1
        name = f"nested_{self._depth}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield self.db
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT inside may have ended it
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            raise
        else:
            conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    def _owned_transaction(
        self,
    ) -> Generator[sqlite_utils.Database, None, list[Callable[[], None]]]:
        """BEGIN IMMEDIATE ... COMMIT on the connection, owned by this thread meanwhile;
        returns the after-commit hooks the transaction registered."""
        with self.lock:
            conn = self.conn
            self._owner = threading.get_ident()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                    conn.commit()
                except BaseException:
                    if conn.in_transaction:
                        conn.rollback()
                    raise
            finally:
                self._owner = None
                hooks, self._after_commit = self._after_commit, []
        return hooks

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the current transaction has committed (now, outside one).

        Wake-ups go through here: a waiter told about mail must be able to read it, from
        this process or another one."""
        if self._owner == threading.get_ident():
            self._after_commit.append(hook)
            return
        hook()

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

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``: ``["ok"]``, or the problems it found."""
        with self.lock:
            return [row[0] for row in self.conn.execute("PRAGMA integrity_check")]

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        if self._reader is not None:
            with self._reader_lock:
                self._reader.close()
        with self.lock:
            if self._checkpointer is not None:
                with contextlib.suppress(sqlite3.Error):  # another process still reading
                    self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.close()
        if isinstance(self._process_lock, ProcessLock):
            self._process_lock.close()


class _NoProcessLock:
    """An in-memory database belongs to one process: nothing to share."""

    def acquire(self, blocking: bool = True) -> bool:
        return True

    def release(self) -> None:
        pass


class ProcessLock:
    """An exclusive ``flock`` on a file next to the database, held around each write
    transaction; processes waiting for it wake the moment it is released."""

    def __init__(self, path: str) -> None:
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot open lock file {path}: {exc.strerror}") from None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock (waiting for it unless ``blocking`` is false); True when taken."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class _Checkpointer(threading.Thread):
    """Copies the WAL into the database file every second, on a connection of its own, so
    writers never wait for it (a PASSIVE checkpoint takes no lock a writer needs).

    A PASSIVE checkpoint never shrinks the WAL file, and under a steady stream of commits
    it may never get the chance to start it over: a burst of mail grew it to more than a
    gigabyte. So when the mail pauses (no commit since the last round), or the WAL has
    grown past :data:`WAL_LIMIT`, it follows the passive one with a TRUNCATE checkpoint,
    which empties the file. That one holds the write lock, so it waits for readers at most
    :data:`TRUNCATE_WAIT_MS` and otherwise tries again next round.
    """

    def __init__(self, path: str, interval: float = 1.0) -> None:
        super().__init__(name="mailbot-checkpoint", daemon=True)
        self._path = path
        self._interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=30)
        conn.execute(f"PRAGMA busy_timeout={TRUNCATE_WAIT_MS}")
        wal = f"{self._path}-wal"
        seen = None  # data_version changes whenever another connection commits
        try:
            while not self._stopping.wait(self._interval):
                try:
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                    paused, seen = version == seen, version
                    size = os.path.getsize(wal) if os.path.exists(wal) else 0
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    if size and (paused or size > WAL_LIMIT):
                        # Emptying the file holds writers off while it copies whatever is
                        # not yet in the database: after the passive one, only what came
                        # meanwhile (under steady SMTP load, 70-140 ms instead of 170-580).
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except (sqlite3.Error, OSError):
                    continue  # busy now; the next round catches up
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=10)

"""Storing on the SMTP event loop: one transaction per loop turn, and the count of messages
being stored (shutdown waits for none)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from mailbot_sandbox.store import Store

T = TypeVar("T")


class InFlight:
    """How many messages are being stored right now; shutdown waits for none."""

    def __init__(self) -> None:
        self.count = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def add(self, delta: int) -> None:
        self.count += delta
        if self.count:
            self.idle.clear()
        else:
            self.idle.set()


class LoopWriter:
    """Stores messages on the event loop's own thread, one transaction per loop turn.

    Jobs submitted while the loop is busy (other sessions finishing DATA at the same moment)
    run together in one transaction; each job is a savepoint in it, so a failing one rolls
    back alone. A job's future resolves only after the COMMIT: its session's 250 never
    acknowledges what is not on disk. Doing this on the loop rather than on a writer
    thread spares two thread switches per message, which under the GIL cost more than the
    writes themselves.
    """

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        self._store = store
        self._loop = loop
        self._pending: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._waiter = _LockWaiter(store, loop, self._commit_reserved)

    def submit(self, job: Callable[[], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = self._loop.create_future()
        if not self._pending:
            self._loop.call_soon(self._commit)
        self._pending.append((job, future))
        return future

    def close(self) -> None:
        """Stop the thread that waits for the write lock (once nothing is being stored)."""
        self._waiter.close()

    def _commit_reserved(self) -> None:
        self._commit(reserved=True)

    def _commit(self, reserved: bool = False) -> None:
        batch = self._pending
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            with self._store.write_nowait(reserved=reserved) as db:
                if db is None:
                    # Another writer holds the lock. Waiting for it here would stall every
                    # session of this loop, and trying again every few hundred microseconds
                    # burnt the CPU the other writer needed: a thread waits for it instead,
                    # and whatever arrives meanwhile joins this batch.
                    self._waiter.wait()
                    return
                self._pending = []
                for job, future in batch:
                    try:
                        with self._store.write():  # a savepoint: this job alone on failure
                            outcomes.append((future, job(), None))
                    except Exception as exc:  # handed to that job's session
                        outcomes.append((future, None, exc))
        except Exception as exc:  # the commit failed: nothing of the batch is stored
            self._pending = [item for item in self._pending if item not in batch]
            outcomes = [(future, None, exc) for _, future in batch]
        for future, value, error in outcomes:
            if future.cancelled():
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)


class _LockWaiter:
    """A thread that waits for the database's write lock on behalf of an event loop, then
    has the loop run its transaction with it (``on_reserved``, on the loop's thread)."""

    def __init__(
        self, store: Store, loop: asyncio.AbstractEventLoop, on_reserved: Callable[[], None]
    ) -> None:
        self._store = store
        self._loop = loop
        self._on_reserved = on_reserved
        self._asked = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None

    def wait(self) -> None:
        """Wait for the lock (once: asking again while waiting changes nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mailbot-smtp-lock", daemon=True)
            self._thread.start()
        self._asked.set()

    def close(self) -> None:
        """Stop waiting; a lock taken meanwhile is given back, or used by a transaction
        the loop runs before it closes."""
        self._closing = True
        self._asked.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            self._asked.wait()
            if self._closing:
                return
            self._store.reserve()
            self._asked.clear()  # a wait asked from here on is for the next transaction
            if self._closing:
                self._store.unreserve()
                return
            try:
                self._loop.call_soon_threadsafe(self._on_reserved)
            except RuntimeError:  # the loop is closed: nobody will write with it
                self._store.unreserve()
                return

"""Storing on the SMTP event loop: one transaction per loop turn, and the count of messages
being stored (shutdown waits for none)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from mailbot_sandbox.store import Store

T = TypeVar("T")
RETRY_SECONDS = 0.0003  # between tries for the write lock another process holds


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

    def submit(self, job: Callable[[], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = self._loop.create_future()
        if not self._pending:
            self._loop.call_soon(self._commit)
        self._pending.append((job, future))
        return future

    def _commit(self) -> None:
        batch = self._pending
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            with self._store.write_nowait() as db:
                if db is None:
                    # Another process is writing. Waiting for it here would stall every
                    # session of this loop; instead try again shortly, and whatever arrives
                    # meanwhile joins this batch.
                    self._loop.call_later(RETRY_SECONDS, self._commit)
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

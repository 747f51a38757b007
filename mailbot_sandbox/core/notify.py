"""Wake-ups for long-polling waits: a version counter and a condition per inbox.

Writers call :meth:`Notifier.publish` after their transaction commits; a waiter reads the
version *before* it queries, so a message committed between its query and its wait still
wakes it. Conditions share one lock but are per inbox, so mail to one inbox never wakes the
waiters of another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager


class Notifier:
    """:param forward: also called with every :meth:`publish` (the sandbox's other processes).
    :param on_wait: called with +1 when a waiter starts (before its first query) and -1 when
        it ends, so other processes can skip telling this one when nobody here waits.
    :param on_block: called with +1 when a waiter blocks in :meth:`wait` (only a publish or
        its timeout can release it now) and -1 when it is released: the parked-waits gauge.
    """

    def __init__(
        self,
        forward: Callable[[list[str]], None] | None = None,
        on_wait: Callable[[int], None] | None = None,
        on_block: Callable[[int], None] | None = None,
    ) -> None:
        self._forward = forward
        self._on_wait = on_wait
        self._on_block = on_block
        self._lock = threading.Lock()
        self._versions: dict[str, int] = {}
        self._conditions: dict[str, tuple[threading.Condition, int]] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Wrap a whole wait, its queries included, in this (the ``on_wait`` count)."""
        if self._on_wait is not None:
            self._on_wait(1)
        try:
            yield
        finally:
            if self._on_wait is not None:
                self._on_wait(-1)

    def version(self, inbox_id: str) -> int:
        with self._lock:
            return self._versions.get(inbox_id, 0)

    def publish(self, inbox_ids: Iterable[str], *, forward: bool = True) -> None:
        """Mark new mail in these inboxes and wake their waiters (here and, unless
        ``forward`` is false, in the other processes)."""
        ids = list(set(inbox_ids))
        if forward and self._forward is not None:
            self._forward(ids)
        with self._lock:
            for inbox_id in ids:
                self._versions[inbox_id] = self._versions.get(inbox_id, 0) + 1
                entry = self._conditions.get(inbox_id)
                if entry is not None:
                    entry[0].notify_all()

    def wait(self, inbox_id: str, seen: int, timeout: float) -> bool:
        """Block until the inbox's version moves past ``seen``; False on timeout or shutdown."""

        def released() -> bool:
            return self._closed or self._versions.get(inbox_id, 0) != seen

        with self._lock:
            if released():
                return not self._closed
            condition, users = self._conditions.get(inbox_id) or (
                threading.Condition(self._lock),
                0,
            )
            self._conditions[inbox_id] = (condition, users + 1)
            # Counted under the lock that wait_for releases only once this waiter sleeps, so
            # whoever reads the gauge and then publishes is sure to wake it.
            if self._on_block is not None:
                self._on_block(1)
            try:
                return condition.wait_for(released, timeout) and not self._closed
            finally:
                if self._on_block is not None:
                    self._on_block(-1)
                condition, users = self._conditions[inbox_id]
                if users <= 1:
                    del self._conditions[inbox_id]
                else:
                    self._conditions[inbox_id] = (condition, users - 1)

    def close(self) -> None:
        """Release every waiter (the server is stopping)."""
        with self._lock:
            self._closed = True
            for condition, _ in self._conditions.values():
                condition.notify_all()

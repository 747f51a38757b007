"""What the worker processes of one sandbox tell each other: wake-ups of long-poll waits,
and of the webhook dispatcher.

``mailbot-sandbox serve`` runs several processes on one database file (see
:mod:`mailbot_sandbox.runtime.processes`). The database is shared; the long-poll waits are
not. A ``wait`` parked in one process must wake when another process stores mail for its
inbox, so the storing process sends the inbox ids (after the commit, so the waiter can read
the mail) as a small JSON datagram over the socket pairs the supervisor made.

Each worker counts its waits in progress in its own slot of a small shared file (``waits``);
a wake-up is sent only while some other worker has one, so a burst with nobody waiting costs
nothing here. Webhook deliveries are made by one process alone, the deliverer (which serves
no connections); a worker that queued some tells it at once (``hooks``) rather than leaving
them to its next poll.

(Metrics need nothing from here: ``prometheus_client``'s multiprocess mode sums the
workers' counters, see :mod:`mailbot_sandbox.metrics`.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger("mailbot_sandbox.runtime.processes.peers")
MAX_DATAGRAM = 64 * 1024
WAITS_FILE = "waits"
IDS_PER_DATAGRAM = 1000  # one datagram holds thousands of ids; a huge batch goes in slices
_HOOKS = json.dumps({"t": "hooks"}).encode()


def create_waits_file(rundir: str, processes: int) -> None:
    """The shared wait counts, all zero, one per process, and after them the flag that a
    wake-up of the webhook deliverer is on its way; the supervisor makes it before starting
    any process."""
    (Path(rundir) / WAITS_FILE).write_bytes(bytes(8 * (processes + 1)))


class Peers:
    """Worker ``index``'s link to the others: it reads ``receiver`` and writes to each of
    ``senders`` (keyed by the other worker's index).

    :param rundir: the folder all workers share, which holds the ``waits`` file.
    """

    def __init__(
        self,
        index: int,
        receiver: socket.socket,
        senders: dict[int, socket.socket],
        rundir: str,
    ) -> None:
        self.index = index
        # One 8-byte slot per worker, each written only by its own worker.
        with open(Path(rundir) / WAITS_FILE, "r+b") as file:
            self._waits_map = mmap.mmap(file.fileno(), 0)
        self._waits = memoryview(self._waits_map).cast("q")
        self._hooks_slot = len(self._waits) - 1  # 1 while a wake-up of the deliverer is unread
        self._parked_lock = threading.Lock()
        self._receiver = receiver
        self._senders = senders
        self._send_lock = threading.Lock()
        self._on_wake: Callable[[list[str]], None] = lambda ids: None
        self._on_hooks: Callable[[], None] = lambda: None
        self._thread: threading.Thread | None = None

    def start(
        self, on_wake: Callable[[list[str]], None], on_hooks: Callable[[], None] | None = None
    ) -> None:
        """Listen to the other workers: ``on_wake`` gets the inbox ids they stored mail for;
        ``on_hooks`` is called when another worker queued webhook deliveries."""
        self._on_wake = on_wake
        if on_hooks is not None:
            self._on_hooks = on_hooks
        self._thread = threading.Thread(target=self._listen, name="mailbot-peers", daemon=True)
        self._thread.start()

    # -- sending --------------------------------------------------------------------------------
    def count_wait(self, delta: int) -> None:
        """Count a wait of this worker starting (+1) or ending (-1)."""
        with self._parked_lock:
            self._waits[self.index] += delta

    def others_waiting(self) -> bool:
        """Whether any other worker has a wait in progress."""
        return any(self._waits[index] > 0 for index in self._senders)

    def wake_others(self, inbox_ids: Iterable[str]) -> None:
        """Tell the other workers that these inboxes got mail (after the commit), if any of
        them has a wait in progress. A wait counts itself before its first query, so one that
        started after this check reads the mail itself."""
        if not self.others_waiting():
            return
        ids = sorted(set(inbox_ids))
        for start in range(0, len(ids), IDS_PER_DATAGRAM):
            message = {"t": "wake", "ids": ids[start : start + IDS_PER_DATAGRAM]}
            data = json.dumps(message, separators=(",", ":")).encode()
            with self._send_lock:
                for sender in self._senders.values():
                    with contextlib.suppress(OSError):  # that worker is gone; nothing to tell
                        sender.send(data)

    def wake_dispatcher(self, deliverer: int) -> None:
        """Tell process ``deliverer`` (which makes every webhook delivery) that some were
        queued, after the commit that queued them.

        Called after every such commit, on the SMTP loop too, so it must never block: until
        the deliverer next reads the event log, another wake-up adds nothing (it clears the
        flag, :meth:`hooks_heard`, before it reads, so it reads this commit too), and a full
        channel means wake-ups are waiting there already."""
        sender = self._senders.get(deliverer)
        if sender is None or self._waits[self._hooks_slot]:
            return
        self._waits[self._hooks_slot] = 1
        with self._send_lock:
            try:
                sender.send(_HOOKS, socket.MSG_DONTWAIT)
            except BlockingIOError:
                pass  # unread wake-ups are there; each makes the deliverer read the queue
            except OSError:  # the deliverer is gone; let a later commit try again
                self._waits[self._hooks_slot] = 0

    def hooks_heard(self) -> None:
        """In the deliverer, just before it reads the event log for webhook deliveries: the
        next commit that queues some wakes it again. Until then workers send nothing, so a
        burst of mail costs a wake-up per read of the log, not one per commit."""
        self._waits[self._hooks_slot] = 0

    # -- receiving ------------------------------------------------------------------------------
    def _listen(self) -> None:
        while True:
            try:
                data = self._receiver.recv(MAX_DATAGRAM)
            except OSError:
                return  # closed: the worker is stopping
            if not data:
                return
            try:
                message = json.loads(data)
                if message.get("t") == "wake":
                    self._on_wake(list(message["ids"]))
                elif message.get("t") == "hooks":
                    self._on_hooks()  # the deliverer calls hooks_heard() when it reads
            except Exception:  # one bad message must not end the listener
                log.warning("could not handle a message from another worker", exc_info=True)

    def close(self) -> None:
        """Stop listening and close every channel."""
        with contextlib.suppress(OSError):
            self._receiver.shutdown(socket.SHUT_RDWR)
        self._receiver.close()
        for sender in self._senders.values():
            sender.close()
        self._waits.release()
        self._waits_map.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

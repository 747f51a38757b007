"""What the worker processes of one sandbox tell each other.

``mailbot-sandbox serve`` runs several processes on one database file (see
:mod:`mailbot_sandbox.runtime.processes`). The database is shared; two things are not, and
travel here as small JSON datagrams over datagram socket pairs the supervisor made:

- wake-ups: a long-poll ``wait`` parked in one process must wake when another process stores
  mail for its inbox (sent after the commit, so the waiter can read it). Each worker counts
  its waits in progress in its own slot of a small shared file (``waits``); a wake-up is sent
  only while some other worker has one, so a burst with nobody waiting costs nothing here;
- metrics: a scrape of ``/metrics`` sums the counters of every process. The one scraped asks
  the others, each writes its counters to a file in the run folder and answers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import os
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger("mailbot_sandbox.runtime.processes.peers")
MAX_DATAGRAM = 64 * 1024
WAITS_FILE = "waits"


def create_waits_file(rundir: str, workers: int) -> None:
    """The shared wait counts, all zero; the supervisor makes it before starting workers."""
    (Path(rundir) / WAITS_FILE).write_bytes(bytes(8 * workers))


class Peers:
    """Worker ``index``'s link to the others: it reads ``receiver`` and writes to each of
    ``senders`` (keyed by the other worker's index).

    :param rundir: a folder all workers share for the files too big for a datagram.
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
        self._parked_lock = threading.Lock()
        self._receiver = receiver
        self._senders = senders
        self._rundir = Path(rundir)
        self._send_lock = threading.Lock()
        self._answers: dict[int, set[int]] = {}
        self._answered = threading.Condition()
        self._nonce = 0
        self._on_wake: Callable[[list[str]], None] = lambda ids: None
        self._snapshot: Callable[[], dict[str, Any]] = dict
        self._thread: threading.Thread | None = None

    def start(
        self,
        on_wake: Callable[[list[str]], None],
        snapshot: Callable[[], dict[str, Any]],
    ) -> None:
        """Listen to the other workers: ``on_wake`` gets the inbox ids they stored mail for,
        ``snapshot`` gives this worker's counters when one of them is scraped."""
        self._on_wake = on_wake
        self._snapshot = snapshot
        self._thread = threading.Thread(target=self._listen, name="mailbot-peers", daemon=True)
        self._thread.start()

    # -- sending --------------------------------------------------------------------------------
    def _send(self, to: Iterable[int], message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode()
        with self._send_lock:
            for index in to:
                with contextlib.suppress(OSError):  # that worker is gone; nothing to tell
                    self._senders[index].send(data)

    def park(self, delta: int) -> None:
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
        # One datagram holds thousands of ids; a huge batch goes in slices.
        for start in range(0, len(ids), 1000):
            self._send(self._senders, {"t": "wake", "ids": ids[start : start + 1000]})

    def gather(self, timeout: float = 2.0) -> list[dict[str, Any]]:
        """Every other worker's counters (those that answer within ``timeout`` seconds)."""
        with self._answered:
            self._nonce += 1
            nonce = self._nonce
            self._answers[nonce] = set()
        self._send(self._senders, {"t": "dump", "from": self.index, "nonce": nonce})
        with self._answered:
            self._answered.wait_for(
                lambda: len(self._answers[nonce]) >= len(self._senders), timeout
            )
            answered = self._answers.pop(nonce)
        found = []
        for index in sorted(answered):
            with contextlib.suppress(OSError, ValueError):
                found.append(json.loads((self._rundir / f"metrics-{index}.json").read_text()))
        return found

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
                self._handle(message)
            except Exception:  # one bad message must not end the listener
                log.warning("could not handle a message from another worker", exc_info=True)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("t")
        if kind == "wake":
            self._on_wake(list(message["ids"]))
        elif kind == "dump":
            path = self._rundir / f"metrics-{self.index}.json"
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(self._snapshot()))
            temporary.replace(path)
            self._send(
                [message["from"]], {"t": "dumped", "from": self.index, "nonce": message["nonce"]}
            )
        elif kind == "dumped":
            with self._answered:
                answers = self._answers.get(message["nonce"])
                if answers is not None:
                    answers.add(message["from"])
                    self._answered.notify_all()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._receiver.shutdown(socket.SHUT_RDWR)
        self._receiver.close()
        for sender in self._senders.values():
            sender.close()
        self._waits.release()
        self._waits_map.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

"""What makes a :class:`~mailbot_sandbox.sandbox.Sandbox` one worker process of several."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable

from mailbot_sandbox.runtime.processes.peers import Peers

log = logging.getLogger("mailbot_sandbox")

# The one-byte kinds the supervisor sends with each connection it hands on.
HTTP_CONNECTION = b"h"
SMTP_CONNECTION = b"s"
SMTPS_CONNECTION = b"t"  # of the implicit-TLS port

Adopt = Callable[[bytes, socket.socket], None]


class WorkerLink:
    """A worker's number (0 is the primary, which runs retention and other upkeep), the
    channel on which the supervisor hands it accepted connections, and its ``peers``: the
    link to the other workers; ``deliverer``, the number of the process that makes every
    webhook delivery; and ``metrics_dir``, where the workers' counters meet (see
    :mod:`mailbot_sandbox.metrics`)."""

    def __init__(
        self, index: int, handoff: socket.socket, peers: Peers, metrics_dir: str, deliverer: int
    ) -> None:
        self.index = index
        self.handoff = handoff
        self.peers = peers
        self.metrics_dir = metrics_dir
        self.deliverer = deliverer
        self._thread: threading.Thread | None = None
        self._closing = False

    @property
    def primary(self) -> bool:
        """Whether this worker runs the upkeep that one process does for all."""
        return self.index == 0

    @property
    def delivers(self) -> bool:
        """Whether this is the process that makes the webhook deliveries. It is one of its
        own, handed no connections: its requests never queue for the interpreter lock
        behind an SMTP session or an API request, nor theirs behind it."""
        return self.index == self.deliverer

    def wake_deliverer(self) -> None:
        """Tell the delivering process that webhook deliveries were queued."""
        self.peers.wake_dispatcher(self.deliverer)

    def start(
        self,
        adopt: Adopt,
        on_wake: Callable[[list[str]], None],
        on_hooks: Callable[[], None] | None = None,
    ) -> None:
        """Serve what the supervisor hands over (``adopt(kind, connection)``) and listen to the
        other workers (``on_wake`` gets the inbox ids they stored mail for; ``on_hooks`` is
        told when they queued webhook deliveries)."""
        self.peers.start(on_wake, on_hooks)
        self._thread = threading.Thread(
            target=self._take_connections, args=(adopt,), name="mailbot-handoff", daemon=True
        )
        self._thread.start()

    def _take_connections(self, adopt: Adopt) -> None:
        """Adopt what the supervisor hands over, until it closes the channel."""
        while True:
            try:
                kind, fds, _, _ = socket.recv_fds(self.handoff, 16, 1)
            except OSError:
                return  # closed by close()
            if not kind:
                break  # the supervisor is gone
            for fd in fds:
                adopt(kind, socket.socket(fileno=fd))
        if not self._closing:
            log.warning("the supervisor went away; stopping")
            os.kill(os.getpid(), signal.SIGTERM)

    def stop_handoff(self) -> None:
        """Take no more connections (the first step of a stop)."""
        self._closing = True
        with contextlib.suppress(OSError):
            self.handoff.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.handoff.close()

    def close(self) -> None:
        """Close the link to the other workers (the last step of a stop)."""
        self.peers.close()

"""The stream hub: every live event stream of this process, served by one thread.

A stream answers its response head on a request thread (``api/streams.py``), and the
connection then comes here: one ``epoll``/``kqueue`` watches every stream for its client
hanging up and for room to write, so a thousand streams cost one thread, not a thousand of
the bounded request threads (:mod:`mailbot_sandbox.runtime.connections`).

New events are found by position in the event log (see
:func:`mailbot_sandbox.store.events.events_after`): one query after each wake-up serves every
stream of the process. A wake-up comes after each commit that recorded events here, after
another worker stored mail (its notifier's wake-up reaches this process), and at least every
:data:`POLL_SECONDS` (events another worker recorded without mail: an inbox or a domain).

A client too slow to take what its stream produces (more than :data:`MAX_PENDING` bytes
waiting) is disconnected; it resumes from the last event it received with ``Last-Event-ID``.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mailbot_sandbox.api.streams import HEARTBEAT, frame
from mailbot_sandbox.core.events import Events
from mailbot_sandbox.core.streams import Subscription

log = logging.getLogger("mailbot_sandbox")

PAGE = 500  # events read at once
POLL_SECONDS = 0.5  # the longest an event recorded by another worker may go unnoticed
MAX_PENDING = 1024 * 1024  # bytes a client may fall behind before it is cut off


@dataclass(eq=False)
class _Client:
    connection: socket.socket
    subscription: Subscription
    position: int  # the last event this client was given, or skipped
    live: bool = False  # caught up: new events reach it from the shared read
    pending: bytearray = field(default_factory=bytearray)
    last_write: float = field(default_factory=time.monotonic)


class StreamHub:
    """Serves live streams until :meth:`close`.

    :param heartbeat: seconds of silence after which a stream gets a ``: ping`` comment.
    :param on_count: called with +1 as a stream starts and -1 as it ends (the gauge, and
        the other workers' reason to tell this one about mail).
    """

    def __init__(
        self, events: Events, heartbeat: float, on_count: Callable[[int], None] | None = None
    ) -> None:
        self._events = events
        self._heartbeat = heartbeat
        self._on_count = on_count
        self._selector = selectors.DefaultSelector()
        self._waker, self._wake_end = socket.socketpair()
        self._waker.setblocking(False)
        self._wake_end.setblocking(False)
        self._selector.register(self._wake_end, selectors.EVENT_READ)
        self._incoming: collections.deque[_Client] = collections.deque()
        self._clients: dict[socket.socket, _Client] = {}
        self._by_account: dict[str, set[_Client]] = {}
        self._catching_up: set[_Client] = set()
        self._position = 0  # the last event the shared read has seen
        self._stale = True  # new events may be waiting for the shared read
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mailbot-streams", daemon=True)
        self._started = False
        self._watching = False  # registered with events.watch
        self._start_lock = threading.Lock()

    @property
    def count(self) -> int:
        """Streams connected now."""
        return len(self._clients) + len(self._incoming)

    def attach(self, connection: socket.socket, subscription: Subscription) -> None:
        """Serve ``connection`` (its response head sent already) as ``subscription``'s stream."""
        if self._closed:
            connection.close()
            return
        with self._start_lock:
            if not self._started:
                self._position = self._events.last_position()
                self._thread.start()
                self._started = True
            self._incoming.append(_Client(connection, subscription, subscription.position))
            if not self._watching:
                self._events.watch(self.wake)
                self._watching = True
        if self._on_count is not None:
            self._on_count(1)
        self._poke()

    def _unwatch_when_idle(self) -> None:
        """Stop being told about every commit once no stream is left (the write path then
        spends nothing on streams)."""
        with self._start_lock:
            if self._watching and not self._clients and not self._incoming:
                self._events.unwatch(self.wake)
                self._watching = False

    def wake(self) -> None:
        """New events may have been committed: look for them."""
        if not self._stale:  # a wake-up already pending covers this one
            self._stale = True
            self._poke()

    def _poke(self) -> None:
        with contextlib.suppress(OSError):  # full: a wake-up is pending anyway
            self._waker.send(b"\0")

    # -- the loop ------------------------------------------------------------------------------
    def _run(self) -> None:
        next_poll = time.monotonic() + POLL_SECONDS
        next_beat = time.monotonic() + self._heartbeat
        while not self._closed:
            timeout = max(0.0, min(next_poll, next_beat) - time.monotonic())
            try:
                ready = self._selector.select(timeout=timeout)
            except OSError:  # the selector was closed by close()
                return
            try:
                for key, mask in ready:
                    if key.fileobj is self._wake_end:
                        with contextlib.suppress(OSError):
                            self._wake_end.recv(4096)
                        continue
                    self._ready(key.data, mask)
                while self._incoming:
                    self._join(self._incoming.popleft())
                now = time.monotonic()
                if now >= next_poll:
                    next_poll = now + POLL_SECONDS
                    self._stale = True
                if self._stale:
                    self._stale = False
                    if self._clients:
                        self._read_new()
                for client in list(self._catching_up):
                    if len(client.pending) < MAX_PENDING // 2:
                        self._catch_up(client)
                if now >= next_beat:
                    next_beat = now + self._heartbeat
                    self._beat(now)
                if self._watching and not self._clients:
                    self._unwatch_when_idle()
            except Exception:  # one bad turn (a busy database) must not end every stream
                log.exception("live streams: a turn of the loop failed")

    def _join(self, client: _Client) -> None:
        try:
            client.connection.setblocking(False)
            self._selector.register(client.connection, selectors.EVENT_READ, client)
        except (OSError, ValueError):  # gone already
            self._forget(client)
            return
        self._clients[client.connection] = client
        self._by_account.setdefault(client.subscription.account_id, set()).add(client)
        self._catch_up(client)

    def _catch_up(self, client: _Client) -> None:
        """Give a new or resuming client the events it has not seen, a page per turn; once
        no more wait, it is live."""
        self._catching_up.add(client)  # until it is done: a failed read is tried again
        found = self._events.after(
            client.position, limit=PAGE, account_id=client.subscription.account_id
        )
        data = b"".join(frame(event) for _, event in found if client.subscription.matches(event))
        if found:
            client.position = found[-1][0]
        if len(found) < PAGE:
            # Every event of its account up to the shared read's position is given: what
            # that read finds next is new to this client too.
            client.position = max(client.position, self._position)
            client.live = True
            self._catching_up.discard(client)
        if data:
            self._send(client, data)

    def _read_new(self) -> None:
        """The shared read: new events of every account, to the live clients they match."""
        last = self._events.last_position()
        if last < self._position:  # the newest events were erased; ids go back down
            self._position = last
        while True:
            found = self._events.after(self._position, limit=PAGE)
            batches: dict[_Client, list[bytes]] = {}
            for position, event in found:
                for client in self._by_account.get(event["account_id"], ()):
                    if client.live and position > client.position:
                        client.position = position
                        if client.subscription.matches(event):
                            batches.setdefault(client, []).append(frame(event))
            if found:
                self._position = found[-1][0]
            for client, frames in batches.items():
                self._send(client, b"".join(frames))
            if len(found) < PAGE:
                return

    def _beat(self, now: float) -> None:
        for client in list(self._clients.values()):
            if now - client.last_write >= self._heartbeat and not client.pending:
                self._send(client, HEARTBEAT)

    # -- one client --------------------------------------------------------------------------
    def _send(self, client: _Client, data: bytes) -> None:
        # The response is chunked (HTTP/1.1 without a length): each write is one chunk.
        if len(client.pending) > MAX_PENDING:  # judged before adding: one huge event goes
            log.info("live stream cut off: its client fell %d bytes behind", MAX_PENDING)
            self._drop(client)
            return
        client.pending += b"%x\r\n%s\r\n" % (len(data), data)
        client.last_write = time.monotonic()
        self._flush(client)

    def _flush(self, client: _Client) -> None:
        try:
            sent = client.connection.send(client.pending)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._drop(client)
            return
        del client.pending[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.pending else 0)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.modify(client.connection, events, client)

    def _ready(self, client: _Client, mask: int) -> None:
        if client.connection not in self._clients:
            return
        if mask & selectors.EVENT_READ:
            try:
                data = client.connection.recv(4096)
            except BlockingIOError:
                data = b"-"
            except OSError:
                data = b""
            if not data:  # the client hung up
                self._drop(client)
                return
            # Anything a client sends on a stream is ignored (there is no next request).
        if mask & selectors.EVENT_WRITE:
            self._flush(client)

    def _drop(self, client: _Client) -> None:
        if self._clients.pop(client.connection, None) is None:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(client.connection)
        clients = self._by_account.get(client.subscription.account_id)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._by_account[client.subscription.account_id]
        self._catching_up.discard(client)
        self._forget(client)

    def _forget(self, client: _Client) -> None:
        with contextlib.suppress(OSError):
            client.connection.close()
        if self._on_count is not None:
            self._on_count(-1)

    def close(self) -> None:
        """End every stream (with the chunked body's last chunk, so clients see a clean end)
        and stop."""
        self._closed = True
        self._poke()
        if self._started:
            self._thread.join(timeout=10)
        for client in list(self._clients.values()):
            with contextlib.suppress(OSError):
                client.connection.send(b"0\r\n\r\n")
            self._drop(client)
        while self._incoming:
            self._forget(self._incoming.popleft())
        self._selector.close()
        self._waker.close()
        self._wake_end.close()

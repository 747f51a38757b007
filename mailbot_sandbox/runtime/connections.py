"""Where HTTP connections wait when no request of theirs is being served, and the bounded set
of threads that serve requests.

A thread per connection lets any client hold a thread by sending half a request, and
thousands of them hanging up at once wake thousands of threads that all fight for the GIL:
the API stalled for seconds to minutes. Here a connection costs a thread only while a request
of it is in progress. Until the head of its next request has fully arrived, it waits in
:class:`Parking` (one thread, one ``epoll``/``kqueue`` for every such connection), which also
closes it when its peer hangs up or takes too long. Complete requests go to
:class:`RequestThreads`: at most ``limit`` threads, reused; beyond that, up to ``queue_limit``
requests wait their turn, and past that the server answers a fast ``503`` rather than let a
client hang. Probes (health, readiness, metrics) have a few threads of their own above the
limit (a second, small :class:`RequestThreads`), so an orchestrator never restarts a sandbox
for being busy.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import re
import resource
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from mailbot_sandbox.api.errors import error_body, server_busy

log = logging.getLogger("mailbot_sandbox")

HEADER_TIMEOUT = 20.0  # seconds a new connection has to send a whole request head
IDLE_TIMEOUT = 75.0  # seconds a kept-alive connection may sit between requests
MAX_HEAD = 256 * 1024  # bytes buffered before the head goes to a thread anyway (to be refused)
# Enough for the contract's 1,000 parked long-poll waits per sandbox in a single process,
# plus the requests that go on meanwhile.
MAX_REQUEST_THREADS = 1500
# Requests that wait for a thread; past this many, the next one is answered 503 at once.
MAX_QUEUED_REQUESTS = 500
PROBE_THREADS = 4  # threads of their own for probes, above the limit
PROBE_QUEUE = 64
IDLE_THREAD_SECONDS = 30.0  # a request thread with nothing to do for this long ends

Dispatch = Callable[[socket.socket, bytes], None]


def head_complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole request head (request line and headers)."""
    return b"\r\n\r\n" in data or b"\n\n" in data or len(data) >= MAX_HEAD


def raise_open_file_limit() -> None:
    """Allow this process as many open files as the system lets it: every waiting
    connection is one, and the usual soft limit (1,024) is below what one worker holds."""
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = max(soft, 65536)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def busy_reply() -> bytes:
    """The whole HTTP response of :func:`~mailbot_sandbox.api.errors.server_busy`."""
    busy = server_busy()
    body = json.dumps(error_body(busy.code, busy.message)).encode()
    head = [
        f"HTTP/1.1 {busy.status} {HTTPStatus(busy.status).phrase}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in busy.headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# Health, readiness and metrics: probes are served even when every request thread is busy.
_PROBE = re.compile(rb"(?:GET|HEAD) /(?:health|ready|metrics)[ ?]")


def is_probe(head: bytes) -> bool:
    """Whether the request ``head`` is a health, readiness or metrics probe."""
    return _PROBE.match(head) is not None


def answer_and_close(connection: socket.socket, reply: bytes) -> None:
    """Send ``reply`` and close, without waiting: the reply is small and the socket's send
    buffer is empty between requests, so the calling thread (parking's) never blocks."""
    with contextlib.suppress(OSError):
        connection.setblocking(False)
        connection.send(reply)
        connection.shutdown(socket.SHUT_WR)
        # Closing with unread bytes (a request body) would reset the connection, and the
        # client could lose the reply: take what has arrived.
        for _ in range(16):
            if not connection.recv(65536):
                break
    connection.close()


@dataclass
class _Parked:
    connection: socket.socket
    head: bytes  # what already arrived of the next request
    deadline: float


class Parking:
    """Connections between requests, watched by one thread: a connection whose next request
    head is complete goes to ``dispatch(connection, head)``; one whose peer hung up, or that
    is past its deadline, is closed here, without ever taking a request thread."""

    def __init__(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch
        self._selector = selectors.DefaultSelector()
        self._waker, self._wake_end = socket.socketpair()
        self._waker.setblocking(False)
        self._wake_end.setblocking(False)
        self._selector.register(self._wake_end, selectors.EVENT_READ)
        self._incoming: collections.deque[_Parked] = collections.deque()
        self._parked: dict[int, _Parked] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mailbot-parking", daemon=True)
        self._thread.start()

    def park(self, connection: socket.socket, head: bytes = b"", *, kept_alive: bool) -> None:
        """Watch ``connection`` until its next request head is complete; ``head`` is what
        already arrived of it. A new connection gets :data:`HEADER_TIMEOUT`, a kept-alive
        one :data:`IDLE_TIMEOUT`."""
        if self._closed:
            connection.close()
            return
        if head_complete(head):
            self._dispatch(connection, head)
            return
        wait = IDLE_TIMEOUT if kept_alive and not head else HEADER_TIMEOUT
        self._incoming.append(_Parked(connection, head, time.monotonic() + wait))
        with contextlib.suppress(OSError):  # full: a wake-up is pending anyway
            self._waker.send(b"\0")

    def _run(self) -> None:
        next_sweep = time.monotonic() + 1
        while not self._closed:
            for key, _ in self._selector.select(timeout=1.0):
                if key.fileobj is self._wake_end:
                    with contextlib.suppress(OSError):
                        self._wake_end.recv(4096)
                    continue
                self._readable(key.data)
            while self._incoming:
                self._register(self._incoming.popleft())
            if (now := time.monotonic()) >= next_sweep:
                next_sweep = now + 1
                for parked in [p for p in self._parked.values() if p.deadline <= now]:
                    self._drop(parked)

    def _register(self, parked: _Parked) -> None:
        if self._closed:
            parked.connection.close()
            return
        try:
            parked.connection.setblocking(False)
            self._selector.register(parked.connection, selectors.EVENT_READ, parked)
        except (OSError, ValueError):  # already closed by its peer
            parked.connection.close()
            return
        self._parked[parked.connection.fileno()] = parked

    def _readable(self, parked: _Parked) -> None:
        try:
            data = parked.connection.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the peer hung up
            self._drop(parked)
            return
        if not parked.head:  # the head has begun: it must now arrive soon
            parked.deadline = min(parked.deadline, time.monotonic() + HEADER_TIMEOUT)
        parked.head += data
        if head_complete(parked.head):
            self._selector.unregister(parked.connection)
            del self._parked[parked.connection.fileno()]
            parked.connection.setblocking(True)
            self._dispatch(parked.connection, parked.head)

    def _drop(self, parked: _Parked) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(parked.connection)
        self._parked.pop(parked.connection.fileno(), None)
        parked.connection.close()

    def close(self) -> None:
        """Close every waiting connection and stop watching."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._waker.send(b"\0")
        self._thread.join(timeout=10)
        for parked in list(self._parked.values()) + list(self._incoming):
            parked.connection.close()
        self._parked.clear()
        self._selector.close()
        self._waker.close()
        self._wake_end.close()


class RequestThreads:
    """At most ``limit`` threads run the submitted calls; up to ``queue_limit`` more calls wait
    in order, and past that :meth:`submit` refuses. Threads are reused and end after
    :data:`IDLE_THREAD_SECONDS` without work.

    :param on_queue: told the number of calls waiting whenever it changes (a gauge).
    """

    def __init__(
        self,
        limit: int = MAX_REQUEST_THREADS,
        queue_limit: int = MAX_QUEUED_REQUESTS,
        on_queue: Callable[[int], None] | None = None,
    ) -> None:
        self.limit = limit
        self.queue_limit = queue_limit
        self._on_queue = on_queue
        self._queue: collections.deque[tuple[Callable[..., None], tuple[object, ...]]] = (
            collections.deque()
        )
        self._ready = threading.Condition()
        self._idle = 0
        self._threads: set[threading.Thread] = set()
        self._closed = False

    def submit(self, call: Callable[..., None], *args: object) -> bool:
        """Run ``call(*args)`` on a free thread, a new one while under the limit, or later.

        Returns False, without running ``call``, when every thread is busy and the queue is
        full.
        """
        with self._ready:
            free = self._idle - len(self._queue)  # idle threads not yet claimed by a call
            room = self.limit - len(self._threads)
            if free <= 0 and room <= 0 and len(self._queue) - self._idle >= self.queue_limit:
                return False
            self._queue.append((call, args))
            if free > 0:
                self._ready.notify()
            elif room > 0:
                thread = threading.Thread(target=self._work, name="mailbot-http", daemon=True)
                self._threads.add(thread)
                thread.start()
            self._queue_changed()
            return True

    def _queue_changed(self) -> None:
        """Report the calls waiting for a thread (called with the lock held)."""
        if self._on_queue is not None:
            self._on_queue(max(0, len(self._queue) - self._idle))

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._ready:
                while not self._queue:
                    if self._closed:
                        self._threads.discard(me)
                        return
                    self._idle += 1
                    woke = self._ready.wait(IDLE_THREAD_SECONDS)
                    self._idle -= 1
                    if not woke and not self._queue:
                        self._threads.discard(me)
                        return
                call, args = self._queue.popleft()
                self._queue_changed()
            try:
                call(*args)
            except Exception:  # one request's failure must not end the thread
                log.exception("unhandled error serving an HTTP connection")

    def close(self, timeout: float = 10) -> None:
        """Let the threads end once the queue is empty; wait for them up to ``timeout``."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

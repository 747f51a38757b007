"""The webhook dispatcher: a background thread that fans events out to their webhooks and
POSTs the deliveries.

The queue is in the database (``store/webhooks.py``), so deliveries pending when a sandbox
stops are made when it starts again, and so is the position in the event log up to which
events were fanned out, so events recorded while it was down are delivered too. Only one
process of several on a database file runs a dispatcher (in ``serve``, a process of its
own); fan-outs and claims are made inside a write transaction anyway, so no delivery is
queued or made twice at once. The API and SMTP paths never wait for it: they record an event
and move on (one row, whoever subscribed), and a slow or dead receiver only holds a few of
the dispatcher's own connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from mailbot_sandbox.config import Config
from mailbot_sandbox.core.events import Events
from mailbot_sandbox.ids import format_time
from mailbot_sandbox.metrics import Metrics
from mailbot_sandbox.runtime.webhook_post import Answer, Poster
from mailbot_sandbox.smtp.server import new_event_loop
from mailbot_sandbox.store import Store, webhooks
from mailbot_sandbox.store.events import last_position
from mailbot_sandbox.store.webhooks import AttemptRow, Claimed, Recorded

log = logging.getLogger("mailbot_sandbox.runtime.webhooks")

# Seconds before each attempt after a failed one (the first is made at once), before
# ``webhook_retry_scale``: 30 s, 2 min, 10 min, 1 h, 6 h. Six attempts in all.
RETRY_DELAYS = (30.0, 120.0, 600.0, 3600.0, 21600.0)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
POLL_SECONDS = 0.5  # a fallback: recording processes wake the dispatcher themselves
CONCURRENCY = 16  # requests in flight at once
PER_URL_CONCURRENCY = 4  # of them to one URL: a slow receiver never holds up the others
PER_URL_HELD = 64  # deliveries to one URL claimed ahead of their turn
MAX_HELD = 512  # deliveries claimed and not yet recorded, in all
RECORD_SECONDS = 0.02  # outcomes wait at most this long to be written together
CLAIM_SECONDS = 0.01  # between two fan-outs (or claims)
FAN_OUT_EVENTS = 1000  # events fanned out in one write transaction at most


class _Outcome(NamedTuple):
    claimed: Claimed
    status_code: int | None
    error: str | None
    latency_ms: float
    finished_at: float


class WebhookDispatcher:
    """Makes due deliveries in the background; start it once per database file.

    Everything runs on one asyncio loop in a thread of its own. Rounds queue the deliveries
    of newly recorded events (the fan-out) and claim due retries, in batches, holding them
    by URL; the poster sends them from the same loop, at most
    :data:`PER_URL_CONCURRENCY` to one URL at a time, taking URLs in turn, so a receiver
    that is slow or down delays only its own deliveries. A finished attempt starts the next
    queued one at once; rounds write the outcomes of the last few milliseconds and claim the
    next batch in one write transaction, so a burst of deliveries costs the mail paths a few
    short transactions, not one per attempt.
    """

    def __init__(
        self,
        store: Store,
        config: Config,
        events: Events,
        metrics: Metrics,
        heard: Callable[[], None] | None = None,
    ) -> None:
        """``heard`` is called just before each read of the event log (the workers of
        ``serve`` wake this process again only after it)."""
        self._store = store
        self._heard = heard or (lambda: None)
        self._metrics = metrics
        self._scale = config.webhook_retry_scale
        self._timeout = config.webhook_timeout
        # A claim outlasts the longest a held delivery can wait for its turn and its try.
        self._hold = config.webhook_timeout * (2 * PER_URL_HELD / PER_URL_CONCURRENCY + 1) + 60
        self._loop = new_event_loop()  # uvloop's where installed, as the SMTP sink's
        self._poster = Poster(self._loop, config.webhook_timeout)
        self._stopping = False
        self._wake_sent = False  # a wake-up from another thread is on its way to the loop
        self._waiter: asyncio.Future[None] | None = None  # the round's sleep, while it sleeps
        # Only the loop's thread touches these:
        self._queued: dict[str, deque[Claimed]] = {}  # claimed, not yet started, by URL
        self._running: Counter[str] = Counter()  # attempts in flight, by URL
        self._busy = 0  # attempts in flight, in all
        self._held = 0  # claimed and not yet recorded
        self._unrecorded: list[_Outcome] = []
        self._recorded_at = 0.0
        self._news = True  # events were recorded or deliveries queued since the last fan-out
        self._fanned_at = 0.0
        self._position = -1  # where the last fan-out left the event log (-1: not yet read)
        self._due: float | None = None  # when the next unclaimed delivery is due, as last seen
        self._looked_at = 0.0
        self._claimed_at = 0.0
        self._thread = threading.Thread(target=self._serve, name="mailbot-webhooks", daemon=True)
        events.on_recorded(self.wake)

    def start(self) -> None:
        with self._store.write() as db:
            webhooks.release_claims(db.conn)
        self._thread.start()

    def wake(self) -> None:
        """Events for webhooks were recorded or deliveries queued (here or by another
        process): fan out and look for due deliveries now. From any thread; wake-ups that
        come while one is on its way to the loop add nothing."""
        self._news = True
        if self._wake_sent:
            return
        self._wake_sent = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: stopped
            self._loop.call_soon_threadsafe(self._woken)

    def stop(self) -> None:
        """Stop claiming; attempts in flight finish (each bounded by the timeout) and are
        recorded, and the claims on those not started are given back."""
        if not self._thread.is_alive():
            self._loop.close()
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._stop_soon)
        self._thread.join(timeout=self._timeout + 10)

    # -- the loop's thread ------------------------------------------------------------------
    def _serve(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        while not self._stopping:
            try:
                pause = self._round()
            except Exception:  # a broken round must not end the dispatcher
                log.exception("webhook dispatcher round failed")
                pause = POLL_SECONDS
            await self._sleep(pause)
        # Stopping: the attempts in flight end within the timeout; then record them and give
        # back the claims on the rest.
        give_up = time.monotonic() + self._timeout + 1
        while self._busy and time.monotonic() < give_up:
            await self._sleep(0.05)
        try:
            recorded = self._prepared()
            with self._store.write() as db:
                self._record_all(db.conn, recorded)
                webhooks.release_claims(db.conn)
        except Exception:  # stopping anyway: the claims expire and the deliveries are retried
            log.exception("could not record the last webhook attempts")
        self._poster.close()
        await asyncio.sleep(0)  # let the transports close

    async def _sleep(self, seconds: float) -> None:
        """Sleep until woken (:meth:`_nudge`) or ``seconds`` passed."""
        waiter = self._waiter = self._loop.create_future()
        timer = self._loop.call_later(seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _nudge(self) -> None:
        """End the round's sleep (on the loop's thread)."""
        if self._waiter is not None:
            _resolve(self._waiter)

    def _woken(self) -> None:
        self._wake_sent = False  # before the round reads the queue: later news wakes again
        self._nudge()

    def _stop_soon(self) -> None:
        self._stopping = True
        self._nudge()

    def _round(self) -> float:
        """Write outcomes, fan new events out and claim more when it is time; how long to
        sleep unless woken.

        Rounds come on news and every few milliseconds while busy; the queue's next due
        time is read on news or every :data:`RECORD_SECONDS` while busy, and the write lock
        that mail needs is taken only to fan out, to claim or to write outcomes."""
        # Fan-outs and claims come at most every CLAIM_SECONDS: taking the write lock
        # whenever something new came made a burst of mail cost a write transaction (and
        # CPU the mail needed) per few deliveries. After a quiet spell they come at once.
        idle = not self._busy and not self._queued
        ready = time.monotonic() - self._claimed_at >= CLAIM_SECONDS
        if not self._news and time.monotonic() - self._fanned_at >= POLL_SECONDS:
            # A wake-up may have been lost (a worker restarted): look, with a read only.
            self._fanned_at = time.monotonic()
            self._news = last_position(self._store) > self._position
        fan = ready and self._news
        if self._news or time.monotonic() - self._looked_at >= RECORD_SECONDS:
            self._look()
        due = self._due
        claim = due is not None and due <= time.time() and self._held < MAX_HELD and ready
        since = time.monotonic() - self._recorded_at
        record = bool(self._unrecorded) and (fan or claim or idle or since >= RECORD_SECONDS)
        if fan or claim or record:
            if fan:
                self._news = False  # before the read: news after it makes another fan-out
                self._heard()
            recorded = self._prepared()
            with self._store.write() as db:
                self._record_all(db.conn, recorded)
                more, passed_over = self._fan_out(db.conn) if fan else (False, False)
                claimed = self._claim(db.conn) if claim else []
            if fan:
                self._fanned_at = time.monotonic()
                self._news = self._news or more
            if fan or claim:
                self._claimed_at = time.monotonic()
            self._recorded_at = time.monotonic()
            self._start_queued()
            if claimed or passed_over:
                self._look()  # what is due and not held now
            elif claim:  # every due URL has its fill: a finished attempt wakes us
                self._due = None
        pause = POLL_SECONDS
        if self._unrecorded or self._busy:
            pause = RECORD_SECONDS
        waiting = self._news or (self._due is not None and self._held < MAX_HELD)
        if waiting:
            when = time.time() if self._news or self._due is None else self._due
            pause = min(
                pause,
                max(0.0, when - time.time(), self._claimed_at + CLAIM_SECONDS - time.monotonic()),
            )
        return pause

    def _look(self) -> None:
        """Read when the next delivery is due (cheap: the start of an index)."""
        self._due = webhooks.next_due(self._store)
        self._looked_at = time.monotonic()

    def _fan_out(self, conn: sqlite3.Connection) -> tuple[bool, bool]:
        """Queue the deliveries of the events recorded since the last fan-out (inside the
        caller's write transaction), holding those whose URL has room, and queue the held
        ones by URL. Whether more events wait, and whether some deliveries were left unheld
        (due now, for a claim)."""
        held = self._held_by_url()
        room = MAX_HELD - self._held
        passed_over = False

        def take(url: str) -> bool:
            nonlocal room, passed_over
            if room <= 0 or held[url] >= PER_URL_HELD:
                passed_over = True  # queued unheld: claim_due takes it when there is room
                return False
            held[url] += 1
            room -= 1
            return True

        fresh, self._position, more = webhooks.fan_out(
            conn, time.time(), self._hold, events=FAN_OUT_EVENTS, take=take
        )
        self._queue(fresh)
        return more, passed_over

    def _claim(self, conn: sqlite3.Connection) -> list[Claimed]:
        """Claim a batch of due deliveries (inside the caller's write transaction) and queue
        them by URL, passing over the URLs that already have their fill."""
        full = [url for url, count in self._held_by_url().items() if count >= PER_URL_HELD]
        claimed = webhooks.claim_due(
            conn,
            time.time(),
            self._hold,
            MAX_HELD - self._held,
            per_url=PER_URL_HELD,
            skip_urls=full,
        )
        self._queue(claimed)
        return claimed

    def _queue(self, claimed: list[Claimed]) -> None:
        """Queue held deliveries by URL, to be started in turn."""
        for item in claimed:
            self._queued.setdefault(item["url"], deque()).append(item)
        self._held += len(claimed)

    def _held_by_url(self) -> Counter[str]:
        held = Counter({url: len(queue) for url, queue in self._queued.items()})
        held.update(self._running)
        return held

    def _start_queued(self) -> None:
        """Start queued deliveries, URL by URL in turn, while there is room."""
        started = True
        while started and self._busy < CONCURRENCY:
            started = False
            for url in list(self._queued):
                queue = self._queued[url]
                if self._busy < CONCURRENCY and self._running[url] < PER_URL_CONCURRENCY:
                    self._running[url] += 1
                    self._busy += 1
                    self._poster.post(queue.popleft(), self._done)
                    started = True
                if not queue:
                    del self._queued[url]

    def _done(self, claimed: Claimed, answer: Answer) -> None:
        """An attempt ended: free its slot and start the next one; the outcome is written
        with the others of the next few milliseconds."""
        url = claimed["url"]
        self._running[url] -= 1
        if not self._running[url]:
            del self._running[url]
        self._busy -= 1
        self._unrecorded.append(_Outcome(claimed, *answer, time.time()))
        self._start_queued()
        if not self._busy:  # the last one: record now, and claim what is due
            self._nudge()

    def _record_all(self, conn: sqlite3.Connection, recorded: list[Recorded]) -> None:
        """Log ``recorded`` (the outcomes not yet logged, :meth:`_prepared`) inside the
        caller's write transaction, and move each delivery on."""
        webhooks.record_attempts(conn, recorded)
        # pending = this attempt failed, another follows; failed = it was the last one
        for status, count in Counter(item.status for item in recorded).items():
            self._metrics.webhook_deliveries.labels(outcome=status).inc(count)
        self._held -= len(recorded)

    def _prepared(self) -> list[Recorded]:
        """The outcomes not yet logged, as rows: made before the write transaction, which
        other processes wait for."""
        recorded, self._unrecorded = [self._recorded(o) for o in self._unrecorded], []
        return recorded

    def _recorded(self, outcome: _Outcome) -> Recorded:
        """How an attempt is logged, and where it leaves its delivery."""
        claimed, status_code = outcome.claimed, outcome.status_code
        attempt = claimed["attempts"] + 1
        if status_code is not None and 200 <= status_code < 300 and outcome.error is None:
            status, next_due = "succeeded", None
        elif attempt < MAX_ATTEMPTS:
            status = "pending"
            next_due = outcome.finished_at + RETRY_DELAYS[attempt - 1] * self._scale
        else:
            status, next_due = "failed", None
        row = AttemptRow(
            delivery_id=claimed["id"],
            attempt=attempt,
            status_code=status_code,
            latency_ms=outcome.latency_ms,
            error=outcome.error,
            next_attempt_at=None if next_due is None else _iso(next_due),
            created_at=_iso(outcome.finished_at),
        )
        return Recorded(row, status, next_due)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _iso(seconds: float) -> str:
    return format_time(datetime.fromtimestamp(seconds, UTC))

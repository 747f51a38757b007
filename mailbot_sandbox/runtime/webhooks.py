"""The webhook dispatcher: a background thread that POSTs queued deliveries.

The queue is in the database (``store/webhooks.py``), so deliveries pending when a sandbox
stops are made when it starts again. Only one process of several on a database file runs a
dispatcher, and claims are taken inside a write transaction anyway, so no delivery is made
twice at once. The API and SMTP paths never wait for it: they record an event and move on,
and a slow or dead receiver only holds one of the dispatcher's own request threads.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import NamedTuple

from mailbot_sandbox.config import Config
from mailbot_sandbox.core.events import Events, wire_payload
from mailbot_sandbox.ids import format_time
from mailbot_sandbox.metrics import Metrics
from mailbot_sandbox.store import Store, webhooks
from mailbot_sandbox.store.webhooks import AttemptRow, Claimed

log = logging.getLogger("mailbot_sandbox.runtime.webhooks")

# Seconds before each attempt after a failed one (the first is made at once), before
# ``webhook_retry_scale``: 30 s, 2 min, 10 min, 1 h, 6 h. Six attempts in all.
RETRY_DELAYS = (30.0, 120.0, 600.0, 3600.0, 21600.0)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
POLL_SECONDS = 0.5  # a fallback: recording processes wake the dispatcher themselves
CONCURRENCY = 8  # requests in flight at once: one slow receiver never holds up the rest


def payload(claimed: Claimed) -> bytes:
    """The body of a delivery: the event as a live stream sends it too."""
    return wire_payload(claimed["event"]).encode()


def signature(body: bytes, secret: str) -> str:
    """``X-Mailbot-Signature``: hex HMAC-SHA256 of the raw body, keyed with the secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect is the receiver's answer, logged as such: following it would POST the
    # signed event to a URL nobody subscribed.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


# No proxy from the environment either: receivers are the developer's own, often local.
_opener = urllib.request.build_opener(_NoRedirects(), urllib.request.ProxyHandler({}))


class _Outcome(NamedTuple):
    claimed: Claimed
    status_code: int | None
    error: str | None
    latency_ms: float
    finished_at: float


class WebhookDispatcher:
    """Makes due deliveries in the background; start it once per database file.

    One thread claims due deliveries and hands them to a small pool that POSTs them. The
    pool only reports outcomes; the claiming thread records every outcome since its last
    round and claims the next due ones in one write transaction, so a burst of deliveries
    costs the mail paths a few short transactions, not one per attempt.
    """

    def __init__(self, store: Store, config: Config, events: Events, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._scale = config.webhook_retry_scale
        self._timeout = config.webhook_timeout
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._in_flight = 0  # claimed and not yet recorded; only the claiming thread counts
        self._finished: list[_Outcome] = []
        self._finished_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="mailbot-webhook")
        self._thread = threading.Thread(target=self._run, name="mailbot-webhooks", daemon=True)
        events.on_recorded(self.wake)

    def start(self) -> None:
        with self._store.write() as db:
            webhooks.release_claims(db.conn)
        self._thread.start()

    def wake(self) -> None:
        """Deliveries were queued (here or by another process): look for due ones now."""
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming; attempts in flight finish (each bounded by the timeout) and are
        recorded."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            with self._store.write() as db:
                self._record_finished(db.conn)
        except Exception:  # stopping anyway: the claims expire and the deliveries are retried
            log.exception("could not record the last webhook attempts")

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before the round: a wake-up during it ends the next sleep
            try:
                pause = self._round()
            except Exception:  # a broken round must not end the dispatcher
                log.exception("webhook dispatcher round failed")
                pause = POLL_SECONDS
            self._wake.wait(pause)

    def _round(self) -> float:
        """Record finished attempts, claim and start what is due; how long to sleep unless
        woken. A read comes first, so a round with nothing to do never takes the write lock
        that mail needs."""
        with self._finished_lock:
            finished = bool(self._finished)
        due = webhooks.next_due(self._store)
        now = time.time()
        free = CONCURRENCY - self._in_flight
        claim = due is not None and due <= now and free > 0
        if finished or claim:
            with self._store.write() as db:
                free += self._record_finished(db.conn)
                claimed = (
                    webhooks.claim_due(db.conn, time.time(), self._timeout + 60, free)
                    if free > 0
                    else []
                )
            self._in_flight += len(claimed)
            for item in claimed:
                self._pool.submit(self._attempt, item)
            due = webhooks.next_due(self._store)
        if due is None or self._in_flight >= CONCURRENCY:
            return POLL_SECONDS  # a finishing attempt wakes us
        return min(POLL_SECONDS, max(0.0, due - time.time()))

    def _attempt(self, claimed: Claimed) -> None:
        try:
            status_code, error, latency_ms = self._post(claimed)
        except Exception as exc:  # recorded as a failed attempt, retried on schedule
            log.exception("webhook delivery %s failed", claimed["id"])
            status_code, error, latency_ms = None, type(exc).__name__, 0.0
        with self._finished_lock:
            self._finished.append(_Outcome(claimed, status_code, error, latency_ms, time.time()))
        self._wake.set()  # the claiming thread records it and fills the slot

    def _post(self, claimed: Claimed) -> tuple[int | None, str | None, float]:
        body = payload(claimed)
        request = urllib.request.Request(
            claimed["url"],
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "mailbot-sandbox-webhooks",
                "X-Mailbot-Signature": signature(body, claimed["secret"]),
                "X-Mailbot-Timestamp": str(int(time.time())),
                "X-Mailbot-Event": claimed["event"]["type"],
                "X-Mailbot-Delivery": claimed["id"],
            },
        )
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            with _opener.open(request, timeout=self._timeout) as response:
                status_code = response.status
                response.read(65536)
        except urllib.error.HTTPError as exc:
            status_code = exc.code
            error = f"HTTP {exc.code}"
            exc.close()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            error = str(reason) or type(reason).__name__
        return status_code, error, round((time.perf_counter() - started) * 1000, 1)

    def _record_finished(self, conn: sqlite3.Connection) -> int:
        """Log every attempt finished since the last round (inside the caller's write
        transaction) and move each delivery on; how many slots that frees."""
        with self._finished_lock:
            finished, self._finished = self._finished, []
        for outcome in finished:
            status = self._record(conn, outcome)
            # pending = this attempt failed, another follows; failed = it was the last one
            self._metrics.webhook_deliveries.labels(outcome=status).inc()
        self._in_flight -= len(finished)
        return len(finished)

    def _record(self, conn: sqlite3.Connection, outcome: _Outcome) -> str:
        claimed, status_code = outcome.claimed, outcome.status_code
        attempt = claimed["attempts"] + 1
        if status_code is not None and 200 <= status_code < 300:
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
        webhooks.record_attempt(conn, row, status=status, next_due=next_due)
        return status


def _iso(seconds: float) -> str:
    return format_time(datetime.fromtimestamp(seconds, UTC))

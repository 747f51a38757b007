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
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from mailbot_sandbox.config import Config
from mailbot_sandbox.core.events import Events
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

_encode = json.JSONEncoder(separators=(",", ":")).encode


def payload(claimed: Claimed) -> bytes:
    """The body of a delivery: the event in both naming styles receivers use, with ``data``
    spliced in as recorded (it was serialized once, when the event was)."""
    head = _encode(
        {
            "id": claimed["event_id"],
            "event_id": claimed["event_id"],
            "type": claimed["type"],
            "event": claimed["type"],
            "event_type": claimed["type"],
            "created_at": claimed["created_at"],
            "inbox_id": claimed["inbox_id"],
            "message_id": claimed["message_id"],
            "thread_id": claimed["thread_id"],
        }
    )
    return f'{head[:-1]},"data":{claimed["data"]}}}'.encode()


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


class WebhookDispatcher:
    """Makes due deliveries in the background; start it once per database file."""

    def __init__(self, store: Store, config: Config, events: Events, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._scale = config.webhook_retry_scale
        self._timeout = config.webhook_timeout
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._slots = threading.Semaphore(CONCURRENCY)
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
        """Stop claiming; attempts in flight finish (each bounded by the timeout)."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

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
        """Claim and start what is due; how long to sleep unless woken. A read comes first,
        so a round with nothing due never takes the write lock mail needs."""
        due = webhooks.next_due(self._store)
        if due is not None and due <= time.time():
            if not self._claim_and_send():
                return POLL_SECONDS  # every slot busy: a finishing attempt wakes us
            due = webhooks.next_due(self._store)
        if due is None:
            return POLL_SECONDS
        return min(POLL_SECONDS, max(0.0, due - time.time()))

    def _claim_and_send(self) -> bool:
        """Start due deliveries in the free slots; False when no slot was free."""
        free = 0
        while self._slots.acquire(blocking=False):
            free += 1
        if not free:
            return False
        with self._store.write() as db:
            claimed = webhooks.claim_due(db.conn, time.time(), self._timeout + 60, free)
        for _ in range(free - len(claimed)):
            self._slots.release()
        for item in claimed:
            self._pool.submit(self._attempt, item)
        return True

    def _attempt(self, claimed: Claimed) -> None:
        try:
            status_code, error, latency_ms = self._post(claimed)
            self._record(claimed, status_code, error, latency_ms)
        except Exception:
            log.exception("webhook delivery %s failed to record", claimed["id"])
        finally:
            self._slots.release()
            self._wake.set()  # a slot is free: claim the next due one now

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
                "X-Mailbot-Event": claimed["type"],
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

    def _record(
        self, claimed: Claimed, status_code: int | None, error: str | None, latency_ms: float
    ) -> None:
        attempt = claimed["attempts"] + 1
        now = time.time()
        if status_code is not None and 200 <= status_code < 300:
            status, next_due = "succeeded", None
        elif attempt < MAX_ATTEMPTS:
            status, next_due = "pending", now + RETRY_DELAYS[attempt - 1] * self._scale
        else:
            status, next_due = "failed", None
        row = AttemptRow(
            delivery_id=claimed["id"],
            attempt=attempt,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
            next_attempt_at=None if next_due is None else _iso(next_due),
            created_at=_iso(now),
        )
        with self._store.write() as db:
            webhooks.record_attempt(db.conn, row, status=status, next_due=next_due)
        # pending = this attempt failed, another follows; failed = it was the last one
        self._metrics.webhook_deliveries.labels(outcome=status).inc()


def _iso(seconds: float) -> str:
    return format_time(datetime.fromtimestamp(seconds, UTC))

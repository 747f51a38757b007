"""One webhook delivery over HTTP: the signed POST, on a connection kept alive per origin."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ssl
import threading
import time
from typing import NamedTuple
from urllib.parse import urlsplit

from mailbot_sandbox.core.events import wire_payload
from mailbot_sandbox.store.webhooks import Claimed

_RESPONSE_LIMIT = 65536  # bytes of a receiver's answer read; the rest closes the connection
_Origin = tuple[str, str, int | None]


def payload(claimed: Claimed) -> bytes:
    """The body of a delivery: the event as a live stream sends it too."""
    return wire_payload(claimed["event"]).encode()


def signature(body: bytes, secret: str) -> str:
    """``X-Mailbot-Signature``: hex HMAC-SHA256 of the raw body, keyed with the secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Answer(NamedTuple):
    """What came of one attempt: the receiver's status (None when it never answered), the
    error as logged (None for a 2xx), and how long it took."""

    status_code: int | None
    error: str | None
    latency_ms: float


class Poster:
    """POSTs deliveries, from any number of threads. Each thread keeps its connections open
    between deliveries, one per origin: a new TCP (and TLS) connection for every POST cost
    more than the POST itself. No proxy from the environment, and no redirect followed:
    receivers are the developer's own, often local, and a redirect is the receiver's answer,
    logged as such (following it would POST the signed event to a URL nobody subscribed)."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._local = threading.local()
        self._every: list[dict[_Origin, http.client.HTTPConnection]] = []  # for close()
        self._lock = threading.Lock()

    def post(self, claimed: Claimed) -> Answer:
        """Make one attempt at ``claimed``; never raises for what the receiver does."""
        body = payload(claimed)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "mailbot-sandbox-webhooks",
            "X-Mailbot-Signature": signature(body, claimed["secret"]),
            "X-Mailbot-Timestamp": str(int(time.time())),
            "X-Mailbot-Event": claimed["event"]["type"],
            "X-Mailbot-Delivery": claimed["id"],
        }
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            status_code = self._send(claimed["url"], body, headers)
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            error = str(exc) or type(exc).__name__
        return Answer(status_code, error, round((time.perf_counter() - started) * 1000, 1))

    def _send(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST ``body`` on this thread's kept-alive connection to the URL's origin; the
        status. A kept connection the receiver closed while idle fails before any answer:
        then the POST is made once more on a new connection."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        origin: _Origin = (parts.scheme, parts.hostname, parts.port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = self._kept().pop(origin, None)
        if kept is not None:
            try:
                return self._exchange(kept, origin, target, body, headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                pass  # closed while idle; the receiver never saw this POST
        return self._exchange(self._connect(*origin), origin, target, body, headers)

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        origin: _Origin,
        target: str,
        body: bytes,
        headers: dict[str, str],
    ) -> int:
        """One request and its answer; the connection is kept for the next one when the
        answer was read whole and the receiver keeps it open, else closed."""
        try:
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            response.read(_RESPONSE_LIMIT)
        except BaseException:
            connection.close()
            raise
        if response.isclosed() and not response.will_close:
            self._kept()[origin] = connection
        else:
            connection.close()
        return response.status

    def close(self) -> None:
        """Close every kept connection (once no thread posts any more)."""
        with self._lock:
            for kept in self._every:
                for connection in kept.values():
                    connection.close()
                kept.clear()

    def _kept(self) -> dict[_Origin, http.client.HTTPConnection]:
        """This thread's open connections, by origin."""
        kept: dict[_Origin, http.client.HTTPConnection] | None = getattr(self._local, "open", None)
        if kept is None:
            kept = self._local.open = {}
            with self._lock:
                self._every.append(kept)
        return kept

    def _connect(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(
                host, port, timeout=self._timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(host, port, timeout=self._timeout)

"""A local webhook receiver for tests: an HTTP server in a thread that records every
delivery the sandbox makes, checks its signature, and waits for the one a test expects.

Usable without pytest: ``with WebhookReceiver() as hook: ...``; the plugin's
``mailbot_webhook_receiver`` fixture starts one per test.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_mailbot.client import MailbotClient

__all__ = ["Delivery", "WebhookReceiver", "WebhookTimeout"]


class WebhookTimeout(AssertionError):
    """No matching delivery arrived in time (an AssertionError, so pytest reports it so)."""


@dataclass(frozen=True)
class Delivery:
    """One POST the receiver got.

    ``verified`` is True when ``X-Mailbot-Signature`` is the HMAC-SHA256 of the body with a
    secret the receiver knows, False when it matches none of them, None when it knows none.
    ``answered`` is the status the receiver gave it: a delivery answered 500 (see
    :meth:`WebhookReceiver.respond_with`) arrives again as a retry, with the same
    ``X-Mailbot-Delivery``.
    """

    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    verified: bool | None
    received_at: float
    answered: int = 200

    @property
    def event(self) -> str:
        """The event type, ``message.received``, from ``X-Mailbot-Event``."""
        return self.headers.get("X-Mailbot-Event", "")

    @property
    def data(self) -> dict[str, Any]:
        """The object the event is about (the payload's ``data``)."""
        payload = self.json if isinstance(self.json, dict) else {}
        data = payload.get("data")
        return data if isinstance(data, dict) else {}

    def describe(self) -> str:
        """One line for failure reports: event, inbox, message, signature, the answer given."""
        payload = self.json if isinstance(self.json, dict) else {}
        signature = {True: "signature ok", False: "BAD SIGNATURE", None: "not checked"}
        return (
            f"  {self.event or '(no X-Mailbot-Event)'}  inbox={payload.get('inbox_id')}  "
            f"message={payload.get('message_id')}  ({signature[self.verified]}, "
            f"answered {self.answered})"
        )


# The short names the sandbox takes for events that are not message.*; the plugin keeps its
# own copy because it may also talk to an external sandbox through HTTP only.
_OTHER_SHORT_NAMES = {"updated": "inbox.updated", "verified": "domain.verified"}


def _full_name(event: str) -> str:
    if "." in event:
        return event
    return _OTHER_SHORT_NAMES.get(event, f"message.{event}")


class WebhookReceiver:
    """A webhook endpoint on ``host``:``port`` (port 0: the OS picks one) at ``url``.

    Give it the secret of each webhook that posts to it (:meth:`subscribe` does, or
    :meth:`add_secret`) and every delivery's signature is checked as the mailbot-sdk README
    checks it. :meth:`respond_with` makes the next deliveries fail, to see the sandbox retry.

    Args:
        client: the account :meth:`subscribe` creates webhooks in (and deletes them from
            on :meth:`stop`).
        host: the address to listen on.
        port: the port, 0 for any free one.
        url_host: the host name in :attr:`url`, when the sandbox reaches this machine by
            another name (a sandbox in docker: ``host.docker.internal``).
    """

    def __init__(
        self,
        client: MailbotClient | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        url_host: str | None = None,
    ) -> None:
        self._client = client
        self._webhooks: list[str] = []
        self.deliveries: list[Delivery] = []
        self.secrets: list[str] = []
        self._statuses: list[int] = []
        self._arrived = threading.Condition()
        self._url_host = url_host or host
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="mailbot-webhook-receiver", daemon=True
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._record(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a test's output is no place for an access log

        return Handler

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> int:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        with self._arrived:
            verified = self._verify(body, headers.get("X-Mailbot-Signature", ""))
            status = self._statuses.pop(0) if self._statuses else 200
            self.deliveries.append(
                Delivery(path, headers, body, payload, verified, time.monotonic(), status)
            )
            self._arrived.notify_all()
            return status

    def _verify(self, body: bytes, signature: str) -> bool | None:
        if not self.secrets:
            return None
        return any(
            hmac.compare_digest(hmac.new(s.encode(), body, hashlib.sha256).hexdigest(), signature)
            for s in self.secrets
        )

    # -- set-up -----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The URL to subscribe: ``http://127.0.0.1:<port>/webhooks``."""
        return f"http://{self._url_host}:{self._server.server_address[1]}/webhooks"

    def start(self) -> WebhookReceiver:
        """Start serving (``with`` does this)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Delete the webhooks :meth:`subscribe` made, stop serving and free the port
        (``with`` does this)."""
        from pytest_mailbot.client import MailbotApiError

        for webhook_id in self._webhooks:
            if self._client is not None:
                with contextlib.suppress(MailbotApiError):  # the test deleted it itself
                    self._client.delete_webhook(webhook_id)
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_secret(self, secret: str) -> None:
        """Check signatures with ``secret`` (a webhook's ``whsec_...``) too, also of the
        deliveries that arrived before it was known (a webhook's test event can)."""
        with self._arrived:
            self.secrets.append(secret)
            self.deliveries[:] = [
                replace(d, verified=self._verify(d.body, d.headers.get("X-Mailbot-Signature", "")))
                for d in self.deliveries
            ]

    def subscribe(self, events: list[str], inbox: Any = None) -> dict[str, Any]:
        """Create a webhook posting ``events`` (full or short names) here, for one ``inbox``
        (a handle or an id) or the whole account, and check its signatures; returns the
        webhook (``id``, ``secret``, ...). Its test event arrives first.

        Raises:
            RuntimeError: the receiver has no client (made without one, outside the fixture).
        """
        if self._client is None:
            raise RuntimeError("WebhookReceiver(client=...) is needed to subscribe")
        inbox_id = getattr(inbox, "id", inbox)
        webhook = self._client.create_webhook(self.url, events, inbox_id=inbox_id)
        self._webhooks.append(webhook["id"])
        self.add_secret(webhook["secret"])
        return webhook

    def respond_with(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` deliveries with ``status`` (then 200 again)."""
        with self._arrived:
            self._statuses.extend([status] * times)

    # -- waiting ----------------------------------------------------------------------------------
    def received(self, event: str | None = None) -> list[Delivery]:
        """The deliveries so far, oldest first; of ``event`` only when given (full or short
        name: ``message.received`` or ``received``)."""
        with self._arrived:
            found = list(self.deliveries)
        return found if event is None else [d for d in found if d.event == _full_name(event)]

    def wait_for(
        self,
        event: str | None = None,
        *,
        timeout: float = 10.0,
        inbox_id: str | None = None,
        message_id: str | None = None,
        count: int = 1,
    ) -> Delivery:
        """Wait for a delivery of ``event`` (any when None; full or short name), optionally
        about ``inbox_id`` or ``message_id``; returns the ``count``-th such delivery.

        Raises:
            WebhookTimeout: none arrived within ``timeout`` seconds; the message lists what
                did arrive.
            AssertionError: the delivery's signature does not match the known secrets.
        """
        wanted = None if event is None else _full_name(event)

        def matching() -> list[Delivery]:
            found = []
            for delivery in self.deliveries:
                payload = delivery.json if isinstance(delivery.json, dict) else {}
                if wanted is not None and delivery.event != wanted:
                    continue
                if inbox_id is not None and payload.get("inbox_id") != inbox_id:
                    continue
                if message_id is not None and payload.get("message_id") != message_id:
                    continue
                found.append(delivery)
            return found

        with self._arrived:
            if not self._arrived.wait_for(lambda: len(matching()) >= count, timeout):
                raise WebhookTimeout(
                    self._timeout_message(
                        wanted, inbox_id, message_id, timeout, count, len(matching())
                    )
                )
            delivery = matching()[count - 1]
        if delivery.verified is False:
            raise AssertionError(
                f"webhook delivery of {delivery.event} has a signature that matches none of "
                f"the {len(self.secrets)} known secret(s):\n{delivery.describe()}"
            )
        return delivery

    def _timeout_message(
        self,
        event: str | None,
        inbox_id: str | None,
        message_id: str | None,
        timeout: float,
        count: int,
        matched: int,
    ) -> str:
        asked = [f"event {event}" if event else "any event"]
        asked += [f"inbox_id={inbox_id}"] if inbox_id else []
        asked += [f"message_id={message_id}"] if message_id else []
        arrived = "\n".join(d.describe() for d in self.deliveries) or "  (none)"
        # With count > 1 some may have matched: say how many of how many, so a wait for
        # retries that come later than the timeout is not read as "nothing came".
        head = (
            "no webhook delivery"
            if matched == 0
            else f"only {matched} of {count} webhook deliveries"
        )
        return (
            f"{head} of {', '.join(asked)} arrived at {self.url} within "
            f"{timeout:g} s; {len(self.deliveries)} arrived:\n{arrived}"
        )

"""A small HTTP client for one sandbox account: the calls a test needs, nothing else.

Plain ``requests``, so it works against any sandbox: in-process, ``mailbot-sandbox serve`` or
the docker image.
"""

from __future__ import annotations

from typing import Any

import requests


class MailbotApiError(Exception):
    """The sandbox answered with an error; ``status``, ``code`` and ``message`` say which."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class MailbotClient:
    """The API of one account (one API key) on one sandbox.

    Args:
        base_url: the sandbox root, e.g. ``http://127.0.0.1:8025`` (a trailing ``/v1`` is
            accepted too).
        api_key: ``mb_...``; each key is an isolated account.
    """

    def __init__(self, base_url: str, api_key: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.api_key = api_key
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {api_key}"

    @property
    def api_url(self) -> str:
        """What ``MailBot(base_url=...)`` wants: the root plus ``/v1``."""
        return f"{self.base_url}/v1"

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    # -- transport ------------------------------------------------------------------------------
    def request(
        self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send a request; raises :class:`MailbotApiError` for any error status."""
        response = self._session.request(
            method, self.base_url + path, timeout=timeout or self.timeout, **kwargs
        )
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                code, message, details = error["code"], error["message"], error.get("details")
            except (ValueError, KeyError, TypeError):
                code, message, details = "http_error", response.text[:200], None
            raise MailbotApiError(response.status_code, code, message, details)
        return response

    def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()["data"]

    # -- inboxes --------------------------------------------------------------------------------
    def create_inbox(self, **fields: Any) -> dict[str, Any]:
        """Create an inbox (``POST /v1/inboxes``); returns it."""
        return self._data("POST", "/v1/inboxes", json=fields)

    def get_inbox(self, inbox_id: str) -> dict[str, Any]:
        """One inbox by id."""
        return self._data("GET", f"/v1/inboxes/{inbox_id}")

    def update_inbox(self, inbox_id: str, **fields: Any) -> dict[str, Any]:
        """Change an inbox (``PATCH``); returns it."""
        return self._data("PATCH", f"/v1/inboxes/{inbox_id}", json=fields)

    def delete_inbox(self, inbox_id: str) -> dict[str, Any]:
        """Disables the inbox (the API never erases one)."""
        return self._data("DELETE", f"/v1/inboxes/{inbox_id}")

    def erase_inbox(self, inbox_id: str) -> dict[str, Any]:
        """Remove the inbox and all its mail for good, freeing its address (sandbox only)."""
        return self._data("DELETE", f"/sandbox/v1/inboxes/{inbox_id}")

    def list_inboxes(self, **params: Any) -> list[dict[str, Any]]:
        """This account's inboxes, newest first; filters: status, domain, page, limit."""
        return self._data("GET", "/v1/inboxes", params=params)

    # -- messages -------------------------------------------------------------------------------
    def send(self, inbox_id: str, **fields: Any) -> dict[str, Any]:
        """Send from an inbox; returns the sender's copy."""
        return self._data("POST", f"/v1/inboxes/{inbox_id}/messages", json=fields)

    def reply(self, inbox_id: str, message_id: str, **fields: Any) -> dict[str, Any]:
        """Reply to a message of an inbox; returns the sent reply."""
        return self._data(
            "POST", f"/v1/inboxes/{inbox_id}/messages/{message_id}/reply", json=fields
        )

    def messages(self, inbox_id: str, **params: Any) -> list[dict[str, Any]]:
        """Newest first; filters: direction, thread_id, label, from_address, after, before."""
        params.setdefault("limit", 100)
        return self._data("GET", f"/v1/inboxes/{inbox_id}/messages", params=params)

    def message(self, inbox_id: str, message_id: str) -> dict[str, Any]:
        """One message of an inbox."""
        return self._data("GET", f"/v1/inboxes/{inbox_id}/messages/{message_id}")

    def raw(self, inbox_id: str, message_id: str) -> bytes:
        """A message's RFC 822 bytes as stored."""
        return self.request("GET", f"/v1/inboxes/{inbox_id}/messages/{message_id}/raw").content

    def attachment(self, inbox_id: str, message_id: str, attachment_id: str) -> bytes:
        """An attachment's bytes."""
        return self.request(
            "GET", f"/v1/inboxes/{inbox_id}/messages/{message_id}/attachments/{attachment_id}"
        ).content

    def search(self, inbox_id: str, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Search an inbox's messages (needs the ``search`` permission)."""
        return self._data(
            "POST",
            f"/v1/inboxes/{inbox_id}/messages/search",
            json={"query": query, "limit": limit},
        )

    def wait(self, inbox_id: str, *, timeout: float, **filters: Any) -> dict[str, Any] | None:
        """Long-poll the server for a matching message; None when none came in ``timeout`` s.

        ``filters``: direction, from_address, subject_contains, after.
        """
        params = {k: v for k, v in filters.items() if v is not None}
        params["timeout_ms"] = int(timeout * 1000)
        try:
            return self._data(
                "GET",
                f"/v1/inboxes/{inbox_id}/messages/wait",
                params=params,
                timeout=timeout + 30,
            )
        except MailbotApiError as exc:
            if exc.status == 408:
                return None
            raise

    def threads(self, inbox_id: str, **params: Any) -> list[dict[str, Any]]:
        """An inbox's threads, newest first."""
        return self._data("GET", f"/v1/inboxes/{inbox_id}/threads", params=params)

    def thread(self, inbox_id: str, thread_id: str) -> dict[str, Any]:
        """One thread with its messages, oldest first."""
        return self._data("GET", f"/v1/inboxes/{inbox_id}/threads/{thread_id}")

    # -- control plane --------------------------------------------------------------------------
    def clock(self) -> dict[str, Any]:
        """This account's clock: ``now`` and ``offset_seconds``."""
        return self._data("GET", "/sandbox/v1/clock")

    def set_clock(self, **change: Any) -> dict[str, Any]:
        """One of ``now=`` (ISO time), ``offset_seconds=`` or ``advance_seconds=``."""
        return self._data("POST", "/sandbox/v1/clock", json=change)

    def outbox(self, **params: Any) -> list[dict[str, Any]]:
        """Captured external mail, newest first; filters: to, inbox_id."""
        params.setdefault("limit", 100)
        return self._data("GET", "/sandbox/v1/outbox", params=params)

    def inject(self, inbox_id: str, **fields: Any) -> dict[str, Any]:
        """Deliver into an inbox as if over SMTP: ``raw=``, or from/subject/body_text..."""
        return self._data("POST", f"/sandbox/v1/inboxes/{inbox_id}/messages", json=fields)

    def set_status(self, inbox_id: str, status: str) -> dict[str, Any]:
        """Set an inbox ``active``, ``disabled`` or ``suspended``."""
        return self._data("POST", f"/sandbox/v1/inboxes/{inbox_id}/status", json={"status": status})

    def publish_dns(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Publish DNS records for strict domain verification; returns them."""
        return self._data("POST", "/sandbox/v1/dns", json={"records": records})

    def reset(self) -> dict[str, Any]:
        """Erase everything of this account."""
        return self._data("POST", "/sandbox/v1/reset")

    # -- webhooks and faults --------------------------------------------------------------------
    def create_webhook(
        self, url: str, events: list[str], inbox_id: str | None = None
    ) -> dict[str, Any]:
        """Subscribe ``url`` to ``events`` (of one inbox, or the whole account); returns the
        webhook with its ``secret``."""
        body: dict[str, Any] = {"url": url, "events": events}
        if inbox_id is not None:
            body["inbox_id"] = inbox_id
        return self._data("POST", "/v1/webhooks", json=body)

    def delete_webhook(self, webhook_id: str) -> dict[str, Any]:
        """Remove a webhook; deliveries still pending for it are dropped."""
        return self._data("DELETE", f"/v1/webhooks/{webhook_id}")

    def set_fault(self, inbox_id: str, **fault: Any) -> dict[str, Any]:
        """Inject a fault into an inbox: ``fail_next``, ``status``, ``smtp_code``,
        ``latency_ms``, ``retry_after``, ``applies_to``."""
        return self._data("POST", f"/sandbox/v1/inboxes/{inbox_id}/faults", json=fault)

    def clear_fault(self, inbox_id: str) -> dict[str, Any]:
        """Clear an inbox's injected fault."""
        return self._data("DELETE", f"/sandbox/v1/inboxes/{inbox_id}/faults")

    # -- engagement -----------------------------------------------------------------------------
    def simulate(self, message_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Simulate an engagement event on a message; returns the message."""
        return self._data("POST", f"/sandbox/v1/messages/{message_id}/simulate", json=body)

    def message_engagement(self, message_id: str) -> dict[str, Any]:
        """A message's engagement timeline."""
        return self._data("GET", f"/v1/engagement/messages/{message_id}")

    def engagement_stats(self, inbox_id: str, period: str = "7d") -> dict[str, Any]:
        """An inbox's engagement counts and rates over ``period``."""
        params = {"inbox_id": inbox_id, "period": period}
        return self._data("GET", "/v1/engagement/stats", params=params)

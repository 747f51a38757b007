"""A stand-in for your app: it sends a welcome mail over SMTP, as an app's mailer does, to an
inbox of the sandbox, then reads it back through the API. Standard library only.

Settings (the compose file sets them): ``SMTP_HOST``, ``SMTP_PORT``, ``MAILBOT_API_URL``,
``MAILBOT_API_KEY``. Exits 0 when the mail arrived, 1 with one line on stderr otherwise.
"""

from __future__ import annotations

import json
import os
import smtplib
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage
from typing import Any

API_URL = os.environ.get("MAILBOT_API_URL", "http://mailbot:8025/v1").rstrip("/")
API_KEY = os.environ.get("MAILBOT_API_KEY", "mb_compose_example")
SMTP_HOST = os.environ.get("SMTP_HOST", "mailbot")
SMTP_PORT = int(os.environ.get("SMTP_PORT", "1025"))


def api(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call the sandbox's API; returns the decoded JSON body."""
    request = urllib.request.Request(
        API_URL + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def wait_until_ready(seconds: float = 60) -> None:
    """The sandbox answers /ready once its database and SMTP are up."""
    deadline = time.monotonic() + seconds
    ready_url = API_URL.removesuffix("/v1") + "/ready"
    while True:
        try:
            with urllib.request.urlopen(ready_url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def welcome_inbox() -> dict[str, Any]:
    """The inbox the app mails; created on the first run, found again on later ones."""
    try:
        created: dict[str, Any] = api("POST", "/inboxes", {"username": "welcome"})["data"]
        return created
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise
    inboxes = api("GET", "/inboxes?limit=100")["data"]
    return next(inbox for inbox in inboxes if inbox["username"] == "welcome")


def main() -> int:
    wait_until_ready()
    inbox = welcome_inbox()
    subject = f"Welcome! ({time.strftime('%H:%M:%S')})"
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = inbox["address"]
    message["Subject"] = subject
    message.set_content("Thanks for signing up.")
    with smtplib.SMTP(SMTP_HOST, SMTP_PORT, timeout=30) as smtp:
        smtp.send_message(message)
    query = urllib.parse.urlencode({"subject_contains": subject, "timeout_ms": 10000})
    found = api("GET", f"/inboxes/{inbox['id']}/messages/wait?{query}")["data"]
    print(f"delivered {found['id']} to {inbox['address']}: {found['subject']}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, KeyError, StopIteration) as exc:
        print(f"send_welcome: error: {exc}", file=sys.stderr)
        sys.exit(1)

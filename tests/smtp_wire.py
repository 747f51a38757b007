"""A raw SMTP client for the fuzz tests, and the checks that follow a session.

``smtplib`` tidies what it sends (line endings, dot-stuffing, command syntax); a hostile client
does not. :class:`Wire` sends bytes exactly as given and reads each reply whole, failing the
test on anything that is not a well-formed reply. :func:`check_stored` then holds the API to
what the SMTP side acknowledged: every ``250``'d message in the inbox once, byte-exact, readable.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field

from hypothesis import event

from mailbot_sandbox import Sandbox
from tests.helpers import Api

# A reply line: three digits, then a space (last line) or a hyphen (more follow), then text.
REPLY_LINE = re.compile(rb"([2-5][0-9][0-9])([ -])([^\r\n]*)\r\n")
# "stored as msg_1, msg_2", with "captured out_3" last when outside addresses were captured.
STORED = re.compile(r"^250 2\.0\.0 OK stored as (.+)$")
INBOX_COPY = re.compile(r"msg_[A-Za-z0-9_]+")


@dataclass
class Reply:
    """One SMTP reply: its code and its lines' text joined."""

    code: int
    text: str

    @property
    def stored_ids(self) -> list[str]:
        """The inbox message ids a ``250 ... stored as`` reply names; none for any other reply
        (a captured copy of mail to outside addresses is not in an inbox)."""
        found = STORED.match(f"{self.code} {self.text}")
        kept = found.group(1).split(", ") if found else []
        return [item for item in kept if INBOX_COPY.fullmatch(item)]


@dataclass
class Wire:
    """One SMTP connection to a sandbox, byte for byte."""

    sandbox: Sandbox
    sock: socket.socket = field(init=False)
    closed_by_server: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection(
            (self.sandbox.smtp_host, self.sandbox.smtp_port), timeout=15
        )
        self._reader = self.sock.makefile("rb")
        greeting = self.reply()
        assert greeting.code == 220, greeting

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> Reply:
        """Read one whole reply (all its lines); fails on a malformed line or a silent close."""
        lines: list[bytes] = []
        code = None
        while True:
            line = self._reader.readline(2 * 1024 * 1024)
            assert line, f"the server closed the connection without a reply (after {lines!r})"
            matched = REPLY_LINE.fullmatch(line)
            assert matched, f"malformed reply line {line[:200]!r}"
            assert code in (None, matched.group(1)), f"reply code changed mid-reply: {line!r}"
            code = matched.group(1)
            lines.append(matched.group(3))
            if matched.group(2) == b" ":
                break
        reply = Reply(int(code), " ".join(part.decode("utf-8", "replace") for part in lines))
        if reply.code in (221, 421):  # the server ends the session after these
            self.closed_by_server = True
        return reply

    def command(self, line: bytes) -> Reply:
        """Send one line (its ending included) and read the reply to it."""
        self.send(line)
        return self.reply()

    def close(self) -> None:
        self._reader.close()
        self.sock.close()


def stuff(message: bytes) -> bytes:
    """The DATA wire form of ``message``: a final CRLF if missing, leading dots doubled on
    every CRLF-ended line (RFC 5321 4.5.2), and the closing ``.`` line."""
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def unstuffed(message: bytes) -> bytes:
    """What the server must store for ``message`` sent through :func:`stuff`."""
    return message if message.endswith(b"\r\n") else message + b"\r\n"


def check_stored(api: Api, inbox_id: str, expected: dict[str, bytes]) -> None:
    """The inbox holds exactly the messages ``expected`` maps (id -> raw bytes): each once,
    readable as JSON, its raw bytes as sent, each attachment downloadable."""
    listed = api.get(f"/v1/inboxes/{inbox_id}/messages", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    ids = [message["id"] for message in listed.json()["data"]]
    assert sorted(ids) == sorted(expected), "stored messages differ from the 250 replies"
    for message_id, raw in expected.items():
        path = f"/v1/inboxes/{inbox_id}/messages/{message_id}"
        message = api.get(path)
        assert message.status_code == 200, message.text
        got = api.get(path + "/raw")
        assert got.status_code == 200, got.text
        assert got.content == raw, "raw bytes differ from what was sent"
        attachments = message.json()["data"]["attachments"]
        event(f"attachments: {min(len(attachments), 3)}")
        for attachment in attachments:
            download = api.get(f"{path}/attachments/{attachment['id']}")
            assert download.status_code == 200, download.text
            assert len(download.content) == attachment["size"]
            download.headers["Content-Disposition"].encode("latin-1")  # a valid header value


def assert_ready(sandbox: Sandbox, api: Api) -> None:
    """``/ready`` answers 200 and a new SMTP connection is greeted and served."""
    ready = api.get("/ready")
    assert ready.status_code == 200, ready.text
    wire = Wire(sandbox)
    try:
        assert wire.command(b"NOOP\r\n").code == 250
    finally:
        wire.close()

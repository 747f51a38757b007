"""A lean webhook receiver in its own process: the app side of ``webhooks.py``.

A real app's receiver runs in its own process (on another machine, usually), not in the one
that generates the SMTP load. This one is built the way fast Python web servers are:
asyncio on ``uvloop`` with HTTP/1.1 parsed by ``httptools`` (uvicorn's stack), connections
kept alive. It answers ``200`` at once, reads the JSON body as an app would, and reports one
line per POST: ``<path> <X-Mailbot-Event> <CLOCK_MONOTONIC seconds> <subject>``, stamped
when the request was read whole and written out in batches a few milliseconds apart. The
monotonic clock is the machine's, so the benchmark compares it with the moments its clients
got their ``250``. Every delivery made here costs CPU on the same cores as the sandbox, so
the leaner the receiver, the more the figures say about the sandbox. Prints
``HTTP 127.0.0.1:PORT`` once listening; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httptools
import uvloop
from _common import serve_until_stopped

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
_EVENT = b"x-mailbot-event"


class Receiver(asyncio.Protocol):
    """One connection: requests in order, each answered ``200`` as soon as it is whole."""

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.kind = b"-"
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url, self.kind, self.body = b"", b"-", []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == _EVENT:
            self.kind = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        arrived = time.monotonic()
        self.transport.write(_OK)
        subject = json.loads(b"".join(self.body)).get("data", {}).get("subject", "")
        path = self.url.decode().lstrip("/")
        _report(f"{path} {self.kind.decode()} {arrived!r} {subject}\n")
        if not self.parser.should_keep_alive():
            self.transport.close()


_lines: list[str] = []
_FLUSH_SECONDS = 0.005


def _report(line: str) -> None:
    """Queue a line for the benchmark, written with those of the next few milliseconds: a
    write per POST woke the benchmark's reading thread as often, and that thread shares
    the load generator's interpreter lock with the SMTP clients."""
    if not _lines:
        asyncio.get_running_loop().call_later(_FLUSH_SECONDS, _flush)
    _lines.append(line)


def _flush() -> None:
    sys.stdout.write("".join(_lines))
    sys.stdout.flush()
    _lines.clear()


async def main() -> None:
    server = await asyncio.get_running_loop().create_server(Receiver, host="127.0.0.1", port=0)
    await serve_until_stopped(server, "HTTP")


if __name__ == "__main__":
    uvloop.run(main())

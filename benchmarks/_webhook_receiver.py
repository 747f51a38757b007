"""A lean webhook receiver in its own process: the app side of ``webhooks.py``.

A real app's receiver runs in its own process, not in the one that generates the SMTP load;
run in the benchmark's process, it competed with the load generator's threads for one GIL and
the latency it measured was partly its own. This one is an asyncio server (HTTP/1.1 parsed by
``h11``, connections kept alive) that answers ``200`` at once and reports one line per POST:
``<path> <X-Mailbot-Event> <CLOCK_MONOTONIC seconds> <subject>``, stamped when the request was
read whole and written out in batches a few milliseconds apart. The monotonic clock is the
machine's, so the benchmark compares it with the moments its clients got their ``250``.
Prints ``HTTP 127.0.0.1:PORT`` once listening; stops on
SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

import h11

_OK = h11.Response(status_code=200, headers=[("Content-Length", "0")])


class Receiver(asyncio.Protocol):
    """One connection: requests in order, each answered ``200`` as soon as it is whole."""

    def __init__(self) -> None:
        self.http = h11.Connection(h11.SERVER)
        self.body: list[bytes] = []
        self.request: h11.Request | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.http.receive_data(data)
        while True:
            event = self.http.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                if self.http.our_state is h11.DONE and self.http.their_state is h11.DONE:
                    self.http.start_next_cycle()
                    continue
                return
            if isinstance(event, h11.Request):
                self.request, self.body = event, []
            elif isinstance(event, h11.Data):
                self.body.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.answer(time.monotonic())
            elif isinstance(event, h11.ConnectionClosed):
                self.transport.close()
                return

    def answer(self, arrived: float) -> None:
        assert self.request is not None
        self.transport.write(self.http.send(_OK) + self.http.send(h11.EndOfMessage()))
        headers = dict(self.request.headers)
        kind = headers.get(b"x-mailbot-event", b"-").decode()
        subject = json.loads(b"".join(self.body)).get("data", {}).get("subject", "")
        path = self.request.target.decode().lstrip("/")
        _report(f"{path} {kind} {arrived!r} {subject}\n")


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
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Receiver, host="127.0.0.1", port=0)
    print(f"HTTP 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())

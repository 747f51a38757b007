"""Live stream latency: 50 connected stream clients, mail arriving over SMTP.

50 clients follow ``GET /v1/inboxes/{id}/stream?events=received`` of one inbox (``serve``
hands their connections to its workers in turn, so the event also crosses processes). One
SMTP client then delivers to that inbox, one message at a time; a sample is the time from
the client's receipt of the ``250`` for DATA to one stream client's receipt of the event
(50 samples per message). All 50 sockets are read by one selector thread, so the load
generator adds little to the machine's load.

In the same run, the baseline: one ``GET .../messages/wait`` on another inbox, woken by
mail to it, the same way (250 to the wait's answer).

Then, with 1,000 streams open (``--quick``: 200), the latency of a plain API read beside
them, and the time for one event to reach every one of them.

Target: p50 <= 20 ms.
"""

from __future__ import annotations

import re
import resource
import selectors
import smtplib
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

import requests
from _common import HOST, Api, Report, Server, build_mail, cpu_seconds, parser, percentile

CLIENTS = 50
MESSAGE_ID = re.compile(rb'"message_id":"(msg_\w+)"')


class StreamClients(threading.Thread):
    """Holds the stream connections open and stamps when each client sees each message."""

    def __init__(self, base_url: str, key: str, inbox_id: str, count: int) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(base_url)
        self.selector = selectors.DefaultSelector()
        self.seen: dict[str, list[float]] = {}
        self.arrived = threading.Condition()
        self.stopping = False
        path = f"/v1/inboxes/{inbox_id}/stream?events=received"
        for index in range(count):
            client = socket.create_connection((parts.hostname, parts.port), timeout=30)
            client.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Authorization: Bearer {key}\r\n\r\n".encode()
            )
            head = b""
            while b"\r\n\r\n" not in head:
                head += client.recv(4096)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"stream {index} answered {head[:200]!r}")
            client.setblocking(False)
            self.selector.register(client, selectors.EVENT_READ, bytearray())

    def run(self) -> None:
        while not self.stopping:
            for key, _ in self.selector.select(timeout=0.5):
                now = time.perf_counter()
                connection: socket.socket = key.fileobj  # type: ignore[assignment]
                buffer: bytearray = key.data
                try:
                    data = connection.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    self.selector.unregister(connection)
                    continue
                buffer += data
                end = buffer.rfind(b"\n\n")  # frames never span chunks; only whole ones
                if end < 0:
                    continue
                found = MESSAGE_ID.findall(buffer[:end])
                del buffer[: end + 2]
                if found:
                    with self.arrived:
                        for message_id in found:
                            self.seen.setdefault(message_id.decode(), []).append(now)
                        self.arrived.notify_all()

    def wait_for(self, message_id: str, count: int, timeout: float) -> list[float]:
        """When each client saw ``message_id`` (fewer than ``count`` after ``timeout``)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.seen.get(message_id, ())) >= count, timeout)
            return list(self.seen.get(message_id, ()))

    def close(self) -> None:
        self.stopping = True
        self.join(timeout=5)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.selector.close()


def deliver(smtp: smtplib.SMTP, address: str, mail: bytes) -> tuple[float, str]:
    """Send one message; the time of the 250 and the message id it names."""
    smtp.mail("alerts@monitor.example")
    smtp.rcpt(address)
    code, reply = smtp.data(mail)
    accepted = time.perf_counter()
    found = re.search(rb"msg_\w+", reply)
    if code != 250 or not found:
        raise RuntimeError(f"SMTP DATA answered {code} {reply!r}")
    return accepted, found.group().decode()


def raise_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))


def wait(api: Api, inbox: str, params: dict[str, str], answer: dict[str, str | float]) -> None:
    """One ``messages/wait``; ``answer`` gets when it came back and the message's id."""
    response = api.request("GET", f"{inbox}/messages/wait", params=params)
    answer["at"] = time.perf_counter()
    answer["id"] = response.json()["data"]["id"]


def parked(base_url: str, timeout: float = 10) -> None:
    """Return once a wait is parked (the ``mailbot_waits_parked`` gauge)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = requests.get(f"{base_url}/metrics", timeout=5).text
        if re.search(r"^mailbot_waits_parked [1-9]", text, re.M):
            return
        time.sleep(0.005)  # between two reads of the signal
    raise RuntimeError("the baseline wait never parked")


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    messages = 10 if args.quick else 60
    many = 200 if args.quick else 1000
    raise_open_file_limit()  # every stream is a socket here too
    report = Report("streams", args.quick)
    to_streams: list[float] = []
    to_wait: list[float] = []
    missed = 0
    with Server() as server:
        api = Api(server.base_url)
        watched, waited = api.create_inbox(username="streamed"), api.create_inbox(username="w")
        clients = StreamClients(server.base_url, api.key, watched["id"], CLIENTS)
        clients.start()
        waiter = Api(server.base_url, api.key)
        stream_mail = build_mail("alerts@monitor.example", watched["address"], "Alert", "Full.")
        previous = ""  # the last message the waiter got
        cpu_before = cpu_seconds(server.pid)
        started = time.perf_counter()
        with smtplib.SMTP(HOST, server.smtp_port, timeout=30) as smtp:
            smtp.ehlo("bench.example")
            for n in range(messages):
                accepted, message_id = deliver(smtp, watched["address"], stream_mail)
                arrivals = clients.wait_for(message_id, CLIENTS, 10)
                missed += CLIENTS - len(arrivals)
                to_streams += [(at - accepted) * 1000 for at in arrivals]
                # the baseline: a wait parked on the other inbox, woken by its mail
                answer: dict[str, str | float] = {}
                params = {"timeout_ms": "10000", **({"after": previous} if previous else {})}
                thread = threading.Thread(
                    target=wait, args=(waiter, f"/v1/inboxes/{waited['id']}", params, answer)
                )
                thread.start()
                parked(server.base_url)
                mail = build_mail("alerts@monitor.example", waited["address"], f"W{n}", "Full.")
                accepted, previous = deliver(smtp, waited["address"], mail)
                thread.join(timeout=15)
                if answer.get("id") == previous:
                    to_wait.append((float(answer["at"]) - accepted) * 1000)
                else:
                    missed += 1
        elapsed = time.perf_counter() - started
        server_cpu = (cpu_seconds(server.pid) - cpu_before) / elapsed
        # Many streams at once: API answers beside them, and one event to every one.
        crowd = StreamClients(server.base_url, api.key, watched["id"], many - CLIENTS)
        crowd.start()
        api_ms = []
        for _ in range(100):
            began = time.perf_counter()
            api.ok("GET", f"/v1/inboxes/{waited['id']}")
            api_ms.append((time.perf_counter() - began) * 1000)
        with smtplib.SMTP(HOST, server.smtp_port, timeout=30) as smtp:
            smtp.ehlo("bench.example")
            accepted, message_id = deliver(smtp, watched["address"], stream_mail)
        everyone = clients.wait_for(message_id, CLIENTS, 30)
        everyone += crowd.wait_for(message_id, many - CLIENTS, 30)
        missed += many - len(everyone)
        crowd.close()
        clients.close()
        waiter.close()
        api.close()
    report.add("event after 250, p50", percentile(to_streams, 50), "ms", at_most=20)
    report.add("event after 250, p99", percentile(to_streams, 99), "ms")
    report.add("event after 250, max", max(to_streams), "ms")
    report.add("baseline: wait answer after 250, p50", percentile(to_wait, 50), "ms")
    report.add("baseline: wait answer after 250, p99", percentile(to_wait, 99), "ms")
    report.add("server CPU", 100 * server_cpu, "%")
    report.add(f"{many} streams: GET inbox, p50", percentile(api_ms, 50), "ms")
    report.add(f"{many} streams: GET inbox, p99", percentile(api_ms, 99), "ms")
    last = max(everyone, default=accepted + 30)  # 30 s: nobody got it
    report.add(f"{many} streams: event after 250 to the last", (last - accepted) * 1000, "ms")
    report.note(
        f"{len(to_streams)} stream samples ({messages} messages x {CLIENTS} clients) and "
        f"{len(to_wait)} wait samples, {missed} missed"
    )
    report.emit(args.json_out)
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())

"""Hostile HTTP clients: N slow connections that send half a request, then all hang up at once.

N clients (default 4,000; ``--quick``: 500) connect to the API port, each sends a request line
and one header but never the blank line that ends the head, and holds on. Then all of them
close at the same moment. Throughout (connecting, holding, hanging up and the seconds after),
a probe sends ``GET /ready`` on a fresh connection every 50 ms and times the answer; a probe
that gets no answer within 30 s counts as 30 s, so the script's time stays bounded.

Target: the slowest ``/ready`` answer <= 1 s.
"""

from __future__ import annotations

import resource
import socket
import sys
import threading
import time

from _common import HOST, Report, Server, cpu_seconds, parser, percentile, profiled

PROBE_EVERY = 0.05  # seconds between probes
PROBE_TIMEOUT = 30.0  # a probe that waits longer counts as this long
HOLD = 2.0  # seconds the slow clients hold their half-sent requests
AFTER = 5.0  # seconds of probing after the hang-up


class Probe(threading.Thread):
    """Times ``GET /ready`` on a fresh connection, again and again, until stopped."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.samples: list[tuple[float, float]] = []  # (when, seconds)
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def once(self) -> float:
        began = time.perf_counter()
        try:
            with socket.create_connection((HOST, self.port), timeout=PROBE_TIMEOUT) as sock:
                sock.sendall(b"GET /ready HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            if not answer.startswith(b"HTTP/1.1 200"):
                self.failures.append(answer[:80].decode("latin-1"))
        except OSError as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")
            return PROBE_TIMEOUT
        return min(time.perf_counter() - began, PROBE_TIMEOUT)

    def run(self) -> None:
        while not self.stopping.is_set():
            when = time.perf_counter()
            self.samples.append((when, self.once()))
            self.stopping.wait(PROBE_EVERY)

    def worst(self, start: float, end: float) -> float:
        """The slowest probe that began between ``start`` and ``end``."""
        return max((s for when, s in self.samples if start <= when <= end), default=0.0)


def raise_open_file_limit(needed: int) -> None:
    """One descriptor per slow client, plus a margin; as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed + 200 if hard == resource.RLIM_INFINITY else min(hard, needed + 200)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, help="slow clients (default 4,000; --quick 500)")
    args = p.parse_args()
    clients = args.clients or (500 if args.quick else 4000)
    raise_open_file_limit(clients)
    report = Report("slow_clients", args.quick)
    with Server() as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        probe = Probe(port)
        probe.start()
        cpu_before = cpu_seconds(server.pid)
        with profiled(server.pid, "slow_clients", args.profile):
            began = time.perf_counter()
            sockets: list[socket.socket] = []
            for _ in range(clients):
                sock = socket.create_connection((HOST, port), timeout=PROBE_TIMEOUT)
                sock.sendall(b"GET /v1/inboxes HTTP/1.1\r\nHost: bench\r\n")
                sockets.append(sock)
            connected = time.perf_counter()
            time.sleep(HOLD)
            hang_up = time.perf_counter()
            for sock in sockets:
                sock.close()
            closed = time.perf_counter()
            time.sleep(AFTER)
            probe.stopping.set()
            probe.join(PROBE_TIMEOUT + 5)
            ended = time.perf_counter()
        server_cpu = cpu_seconds(server.pid) - cpu_before
    everything = [s for _, s in probe.samples]
    report.add("/ready, slowest", probe.worst(began, ended) * 1000, "ms", at_most=1000)
    report.add("/ready, slowest while connecting", probe.worst(began, connected) * 1000, "ms")
    report.add("/ready, slowest after the hang-up", probe.worst(hang_up, ended) * 1000, "ms")
    report.add("/ready, p50", percentile(everything, 50) * 1000, "ms")
    report.add("clients connecting", connected - began, "s")
    report.add("server CPU", server_cpu, "s")
    report.note(
        f"{clients} slow clients, {len(everything)} probes, {len(probe.failures)} failed"
        + (f" (first: {probe.failures[0]})" if probe.failures else "")
        + f"; hang-up of all clients took {1000 * (closed - hang_up):.0f} ms"
    )
    report.emit(args.json_out)
    met = all(m.met is not False for m in report.metrics)
    return 0 if met and not probe.failures else 1


if __name__ == "__main__":
    sys.exit(main())

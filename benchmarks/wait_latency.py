"""Long-poll wake-up latency: 50 pending ``GET .../messages/wait``, mail arriving over SMTP.

50 inboxes each have one waiter (a thread with its own HTTP session) blocked in
``GET /v1/inboxes/{id}/messages/wait``. One SMTP client then delivers to the inboxes one at a
time, round robin; a sample is the time from the client's receipt of the ``250`` for DATA to
the moment the matching wait response (same message id) is back at the waiter. Each waiter
re-arms at once with ``after=<the id it just got>``.

Targets: p50 <= 20 ms, p99 <= 100 ms.
"""

from __future__ import annotations

import re
import smtplib
import sys
import threading
import time

from _common import (
    HOST,
    Api,
    Report,
    Server,
    build_mail,
    cpu_seconds,
    parser,
    percentile,
    profiled,
)

WAITERS = 50
WAIT_TIMEOUT_MS = 30_000


class Waiter(threading.Thread):
    """Keeps one wait pending on one inbox and stamps each answer's arrival."""

    def __init__(self, base_url: str, key: str, inbox_id: str, arrivals: dict[str, float]):
        super().__init__(daemon=True)
        self.api = Api(base_url, key)
        self.inbox_id = inbox_id
        self.arrivals = arrivals
        self.arrived = threading.Condition()
        self.stopping = False
        self.errors: list[str] = []

    def run(self) -> None:
        after: str | None = None
        path = f"/v1/inboxes/{self.inbox_id}/messages/wait"
        while not self.stopping:
            params: dict[str, str | int] = {"timeout_ms": WAIT_TIMEOUT_MS}
            if after:
                params["after"] = after
            try:
                response = self.api.request("GET", path, params=params, timeout=60)
            except Exception as exc:  # the server is stopping
                if not self.stopping:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                return
            now = time.perf_counter()
            if response.status_code == 408:
                continue
            if response.status_code != 200:
                if not self.stopping:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")
                return
            after = response.json()["data"]["id"]
            with self.arrived:
                self.arrivals[after] = now
                self.arrived.notify_all()

    def wait_for(self, message_id: str, timeout: float) -> float | None:
        """The arrival time of ``message_id`` at this waiter, or None after ``timeout``."""
        with self.arrived:
            self.arrived.wait_for(lambda: message_id in self.arrivals, timeout)
            return self.arrivals.get(message_id)


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    samples = 50 if args.quick else 400
    report = Report("wait_latency", args.quick)
    from_250: list[float] = []
    from_mail: list[float] = []
    missed = 0
    with Server() as server:
        api = Api(server.base_url)
        inboxes = [api.create_inbox(username=f"w{i}") for i in range(WAITERS)]
        arrivals: dict[str, float] = {}
        waiters = [Waiter(server.base_url, api.key, inbox["id"], arrivals) for inbox in inboxes]
        for waiter in waiters:
            waiter.start()
        time.sleep(1.5)  # every wait is pending (the inboxes are empty)
        mails = [
            build_mail("alerts@monitor.example", inbox["address"], f"Alert {i}", "Disk is full.")
            for i, inbox in enumerate(inboxes)
        ]
        cpu_before = cpu_seconds(server.pid)
        started = time.perf_counter()
        with (
            smtplib.SMTP(HOST, server.smtp_port, timeout=30) as smtp,
            profiled(server.pid, "wait_latency", args.profile),
        ):
            smtp.ehlo("bench.example")
            for n in range(samples):
                index = n % WAITERS
                begin = time.perf_counter()
                smtp.mail("alerts@monitor.example")
                smtp.rcpt(inboxes[index]["address"])
                code, reply = smtp.data(mails[index])
                accepted = time.perf_counter()
                found = re.search(rb"msg_\w+", reply)
                if code != 250 or not found:
                    raise RuntimeError(f"SMTP DATA answered {code} {reply!r}")
                arrived = waiters[index].wait_for(found.group().decode(), 10)
                if arrived is None:
                    missed += 1
                    continue
                from_250.append((arrived - accepted) * 1000)
                from_mail.append((arrived - begin) * 1000)
        elapsed = time.perf_counter() - started
        server_cpu = (cpu_seconds(server.pid) - cpu_before) / elapsed
        for waiter in waiters:
            waiter.stopping = True
        errors = [e for w in waiters for e in w.errors]
        api.close()
    if errors:
        raise RuntimeError(f"a waiter failed: {errors[0]}")
    report.add("wake-up after 250, p50", percentile(from_250, 50), "ms", at_most=20)
    report.add("wake-up after 250, p99", percentile(from_250, 99), "ms", at_most=100)
    report.add("wake-up after 250, max", max(from_250), "ms")
    report.add("MAIL FROM -> wait answer, p50", percentile(from_mail, 50), "ms")
    report.add("MAIL FROM -> wait answer, p99", percentile(from_mail, 99), "ms")
    report.add("server CPU", 100 * server_cpu, "%")
    report.note(
        f"{len(from_250)} samples over {WAITERS} pending waits, {missed} missed; "
        f"negative values mean the wait answer beat the SMTP 250 to the client"
    )
    report.emit(args.json_out)
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())

"""Webhook delivery under SMTP load: messages over SMTP with 3 webhook subscribers.

Two accounts on one ``serve`` (two worker processes and the webhook deliverer, as users run
it): one without webhooks, one whose account has 3 webhooks subscribed to
``message.received``, all posting to a local receiver (``_webhook_receiver.py``, a uvloop +
httptools server in its own process as an app's would be, one path per subscriber). Rounds
alternate between them: 4 SMTP clients send a batch to an inbox of the account, then (for the
one with webhooks) the round waits until every delivery arrived. The ingest rate of each account is
the batch over its sending time; the latency of a delivery is from the moment its message's
``250`` reached the client to the moment the receiver read the POST (the machine's
monotonic clock, read by both processes). The CPU the server used per message, with and
without webhooks, and the receiver's per delivery, show where the time goes: all of it
comes out of the same cores.

Targets: every delivery made (3 per message); latency p50 <= 50 ms and p99 <= 500 ms;
ingest with webhooks >= 80% of the rate without, in the same run.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from email.message import EmailMessage

from _common import (
    HOST,
    Api,
    Helper,
    LeanSmtp,
    Report,
    Server,
    child_pids,
    cpu_seconds,
    parser,
    percentile,
    profiled,
)

CLIENTS = 4
SUBSCRIBERS = 3
BODY = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 30  # ~1.7 KB
DELIVERY_TIMEOUT = 120.0  # seconds a round waits for its deliveries before it gives up


class Receiver:
    """``_webhook_receiver.py`` in its own process; records when each subscriber (by path)
    got ``message.received`` for each subject."""

    def __init__(self) -> None:
        self.arrivals: dict[tuple[str, str], float] = {}
        self.duplicates = 0
        self.count = 0
        self._changed = threading.Condition()
        self.helper = Helper("_webhook_receiver.py")
        self.proc, self.port = self.helper.proc, self.helper.port
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}/{path}"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            path, kind, arrived, subject = line.rstrip("\n").split(" ", 3)
            if kind == "message.received":
                self.record(path, subject, float(arrived))

    def record(self, path: str, subject: str, arrived: float) -> None:
        with self._changed:
            if (path, subject) in self.arrivals:
                self.duplicates += 1
            else:
                self.arrivals[(path, subject)] = arrived
            self.count += 1
            self._changed.notify_all()

    def wait_for(self, total: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.arrivals) >= total, timeout)

    def stop(self) -> None:
        self.helper.stop()


def mail(sender: str, recipient: str, subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@client.example>"
    message.set_content(BODY)
    return LeanSmtp.stuff(message.as_bytes())


def send_batch(port: int, recipient: str, subjects: list[str]) -> tuple[float, dict[str, float]]:
    """``CLIENTS`` connections send one message per subject; the seconds it took, and when
    each message's 250 arrived."""
    sender = "load@client.example"
    mails = [mail(sender, recipient, subject) for subject in subjects]
    replied: dict[str, float] = {}
    errors: list[str] = []
    ready = threading.Barrier(CLIENTS + 1)

    def client(index: int) -> None:
        with LeanSmtp(HOST, port, timeout=60) as smtp:
            smtp.ehlo("bench.example")
            ready.wait()
            try:
                for n in range(index, len(mails), CLIENTS):
                    smtp.send(sender, recipient, mails[n], stuffed=True)
                    replied[subjects[n]] = time.monotonic()
            except Exception as exc:  # reported below, naming the round
                errors.append(repr(exc))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    ready.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - began
    if errors:
        raise RuntimeError(f"SMTP send failed: {errors[0]}")
    return seconds, replied


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    messages, rounds = (100, 1) if args.quick else (1000, 2)
    per_round = messages // rounds
    report = Report("webhooks", args.quick)
    receiver = Receiver()
    try:
        with Server() as server:
            plain, hooked = Api(server.base_url), Api(server.base_url)
            plain_inbox = plain.create_inbox()
            hooked_inbox = hooked.create_inbox()
            paths = [f"subscriber-{n}" for n in range(SUBSCRIBERS)]
            for path in paths:
                hooked.ok(
                    "POST",
                    "/v1/webhooks",
                    json={"url": receiver.url(path), "events": ["message.received"]},
                )
            send_batch(server.smtp_port, plain_inbox["address"], ["warm-up"] * CLIENTS)
            off_seconds = on_seconds = 0.0
            # CPU seconds of the server (all its processes), of its deliverer, of the receiver
            off_cpu = on_cpu = deliverer_cpu = receiver_cpu = 0.0
            deliverer = child_pids(server.pid)[-1]  # serve starts it last
            replied: dict[str, float] = {}
            missing = 0
            for number in range(rounds):
                off_subjects = [f"off {number}-{n}" for n in range(per_round)]
                # The search index is filled when mail pauses; catching it up here keeps that
                # work out of the timed rounds (as in smtp_ingest.py).
                plain.catch_up_index(plain_inbox["id"])
                hooked.catch_up_index(hooked_inbox["id"])
                before = cpu_seconds(server.pid)
                off_took, _ = send_batch(server.smtp_port, plain_inbox["address"], off_subjects)
                off_cpu += cpu_seconds(server.pid) - before
                off_seconds += off_took
                on_subjects = [f"on {number}-{n}" for n in range(per_round)]
                plain.catch_up_index(plain_inbox["id"])
                before, received_before = cpu_seconds(server.pid), cpu_seconds(receiver.proc.pid)
                delivered_before = cpu_seconds(deliverer)
                with profiled(server.pid, "webhooks", args.profile and number == 0):
                    took, times = send_batch(server.smtp_port, hooked_inbox["address"], on_subjects)
                    expected = len(replied) + len(times)
                    complete = receiver.wait_for(expected * SUBSCRIBERS, DELIVERY_TIMEOUT)
                on_cpu += cpu_seconds(server.pid) - before  # the deliveries' share included
                deliverer_cpu += cpu_seconds(deliverer) - delivered_before
                receiver_cpu += cpu_seconds(receiver.proc.pid) - received_before
                on_seconds += took
                replied.update(times)
                if not complete:
                    missing = len(replied) * SUBSCRIBERS - len(receiver.arrivals)
                    break
                print(
                    f"  round {number + 1}: without webhooks {per_round / off_took:,.0f} msg/s, "
                    f"with {per_round / took:,.0f} msg/s",
                    flush=True,
                )
            latencies = [
                1000 * (arrived - replied[subject])
                for (_, subject), arrived in receiver.arrivals.items()
            ]
            plain.close()
            hooked.close()
    finally:
        receiver.stop()
    sent = len(replied)
    off_rate = sent / off_seconds
    on_rate = sent / on_seconds
    made = len(receiver.arrivals)
    report.add("deliveries made", made, "count", at_least=sent * SUBSCRIBERS)
    report.add("250 -> receiver p50", percentile(latencies, 50), "ms", at_most=50)
    report.add("250 -> receiver p99", percentile(latencies, 99), "ms", at_most=500)
    report.add("250 -> receiver max", max(latencies, default=float("nan")), "ms")
    report.add("SMTP ingest without webhooks", off_rate, "msg/s")
    report.add("SMTP ingest with 3 webhooks", on_rate, "msg/s")
    report.add("with / without", on_rate / off_rate, "x", at_least=0.8)
    report.add("duplicate deliveries", receiver.duplicates, "count", at_most=0)
    report.add("server CPU per message, without webhooks", 1e6 * off_cpu / sent, "us")
    report.add("server CPU per message, with 3 deliveries", 1e6 * on_cpu / sent, "us")
    report.add("... of which the deliverer process", 1e6 * deliverer_cpu / sent, "us")
    report.add("receiver CPU per delivery", 1e6 * receiver_cpu / max(made, 1), "us")
    if missing:
        report.note(f"{missing} deliveries had not arrived {DELIVERY_TIMEOUT:g} s after a round")
    report.note(
        f"{sent} messages with webhooks ({rounds} round(s)), as many without, {CLIENTS} SMTP "
        f"clients, ~{len(BODY) // 1024 + 1} KB messages, {SUBSCRIBERS} subscribers on one "
        "local receiver; serve with its default workers"
    )
    report.emit(args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

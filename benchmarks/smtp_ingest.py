"""SMTP ingest throughput: 5 KB messages from 4 concurrent clients into one sandbox inbox.

Each client (a thread with a raw-socket :class:`_common.LeanSmtp`) keeps its connection open
and sends messages until the round's time is up. The same load is run against a bare aiosmtpd
sink that stores nothing (``_bare_sink.py``, its own process), alternating rounds, and the
sandbox's rate is reported with the ratio to that baseline. The sandbox is ``serve`` as users
run it: on this machine two worker processes. For comparison a third server runs too, the
sandbox's own SMTP layer (``--tuned``: its DATA reader and address parsing on uvloop) storing
nothing in one process; it has no target.

The load generator is a raw-socket client, and the messages are dot-stuffed once up front,
because on a 2-core machine :mod:`smtplib`'s own CPU cost (~0.5 ms per message) was taken
from the servers being measured. Both servers get the same client, so the ratio stays fair.

Targets: >= 1,000 msg/s, and >= 50% of the bare sink.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from _common import (
    HOST,
    Api,
    Helper,
    LeanSmtp,
    Report,
    Round,
    Server,
    median,
    parser,
    profiled,
    sized_mails,
    timed_round,
)

CLIENTS = 4
MESSAGE_SIZE = 5 * 1024


def bare_sink(tuned: bool = False) -> Helper:
    """``_bare_sink.py`` in its own process."""
    return Helper("_bare_sink.py", *(["--tuned"] if tuned else []))


def run_round(
    port: int, pid: int, sender: str, recipient: str, mails: list[bytes], seconds: float
) -> Round:
    """``CLIENTS`` connections send for ``seconds``; every message must get a 250.

    ``mails`` are already dot-stuffed (:meth:`LeanSmtp.stuff`).
    """

    def connect(index: int) -> tuple[Callable[[int], None], Callable[[], None]]:
        smtp = LeanSmtp(HOST, port, timeout=30)
        try:
            smtp.ehlo("bench.example")
        except Exception:
            smtp.close()
            raise

        def send(n: int) -> None:
            smtp.send(sender, recipient, mails[n % len(mails)], stuffed=True)

        return send, smtp.quit

    return timed_round(pid, CLIENTS, connect, seconds, "SMTP")


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    rounds, seconds = (1, 1.5) if args.quick else (3, 5.0)
    report = Report("smtp_ingest", args.quick)
    mails: list[bytes] = []
    sink = bare_sink()
    tuned_sink = bare_sink(tuned=True)
    try:
        with Server() as server:
            api = Api(server.base_url)
            inbox = api.create_inbox()
            recipient = inbox["address"]
            sender = "load@client.example"
            mails = [LeanSmtp.stuff(m) for m in sized_mails(sender, recipient, 400, MESSAGE_SIZE)]
            # Warm both (connections, caches, first pages of the database).
            run_round(server.smtp_port, server.pid, sender, recipient, mails, 0.5)
            run_round(sink.port, sink.pid, sender, recipient, mails, 0.5)
            run_round(tuned_sink.port, tuned_sink.pid, sender, recipient, mails, 0.5)
            sandbox: list[Round] = []
            bare: list[Round] = []
            tuned: list[Round] = []
            index_seconds: list[float] = []
            for _ in range(rounds):
                index_seconds.append(api.catch_up_index(inbox["id"]))  # in neither round
                with profiled(server.pid, "smtp_ingest", args.profile and not sandbox):
                    sandbox.append(
                        run_round(server.smtp_port, server.pid, sender, recipient, mails, seconds)
                    )
                index_seconds.append(api.catch_up_index(inbox["id"]))
                with profiled(sink.pid, "smtp_ingest_bare", args.profile and not bare):
                    bare.append(run_round(sink.port, sink.pid, sender, recipient, mails, seconds))
                tuned.append(
                    run_round(tuned_sink.port, tuned_sink.pid, sender, recipient, mails, seconds)
                )
                print(
                    f"  round: sandbox {sandbox[-1].rate:,.0f} msg/s "
                    f"(server CPU {sandbox[-1].server_cpu:.0%}, client CPU "
                    f"{sandbox[-1].client_cpu:.0%}), bare sink {bare[-1].rate:,.0f} msg/s "
                    f"(server CPU {bare[-1].server_cpu:.0%}, client CPU "
                    f"{bare[-1].client_cpu:.0%}), tuned sink {tuned[-1].rate:,.0f} msg/s",
                    flush=True,
                )
            stored = api.ok("GET", f"/v1/inboxes/{inbox['id']}")["message_count"]
            sent = sum(r.sent for r in sandbox)
            api.close()
    finally:
        sink.stop()
        tuned_sink.stop()
    sandbox_rate = median([r.rate for r in sandbox])
    bare_rate = median([r.rate for r in bare])
    report.add("sandbox ingest (median)", sandbox_rate, "msg/s", at_least=1000)
    report.add("bare aiosmtpd sink (median)", bare_rate, "msg/s")
    report.add("sandbox / bare sink", sandbox_rate / bare_rate, "x", at_least=0.5)
    report.add(
        "sandbox's SMTP layer storing nothing, 1 process (median)",
        median([r.rate for r in tuned]),
        "msg/s",
    )
    report.add("sandbox server CPU", 100 * median([r.server_cpu for r in sandbox]), "%")
    report.add("load generator CPU", 100 * median([r.client_cpu for r in sandbox]), "%")
    report.note(
        f"search indexing is deferred until mail pauses: catching up after a round took "
        f"{1000 * max(index_seconds[1::2]):,.0f} ms at most (a search waits for it)"
    )
    report.note(
        f"{CLIENTS} clients x {rounds} round(s) of {seconds:g} s, ~{MESSAGE_SIZE} B messages; "
        f"{stored} rows stored in the inbox ({sent} sent in timed rounds, plus warm-up)"
    )
    report.emit(args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

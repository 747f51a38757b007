"""SMTP ingest over STARTTLS next to plain SMTP: 5 KB messages from 4 concurrent clients.

Two shapes of client, each measured plain and with STARTTLS in the same run against the same
``serve`` (two worker processes on this machine), alternating within each round:

- *many messages per connection*: each client connects (and does STARTTLS) once, then sends
  until the round's time is up, as a long-lived app process or a mail relay does;
- *one message per connection*: each message opens a new connection (a new TLS session, with
  a full handshake: no session resumption), as a web app that connects per email does.

The client verifies the certificate against the sandbox CA, as a real one would. The load
generator is the raw-socket :class:`_common.LeanSmtp`; its TLS is Python's ``ssl`` module, so on
a 2-core machine the client's handshakes take CPU from the server too: the ratios below are
what both ends cost together.

Targets: STARTTLS keeps >= 60% of plain throughput with many messages per connection.
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import Callable

from _common import (
    HOST,
    Api,
    LeanSmtp,
    Report,
    Round,
    Server,
    median,
    parser,
    sized_mails,
    timed_round,
)

CLIENTS = 4
MESSAGE_SIZE = 5 * 1024


def run_round(
    server: Server,
    context: ssl.SSLContext | None,
    per_connection: bool,
    sender: str,
    recipient: str,
    mails: list[bytes],
    seconds: float,
) -> Round:
    """``CLIENTS`` clients send for ``seconds``; TLS when ``context`` is given, a new connection
    per message when ``per_connection``. Every message must get a 250."""

    def open_session() -> LeanSmtp:
        smtp = LeanSmtp(HOST, server.smtp_port, timeout=30)
        try:
            smtp.ehlo("bench.example")
            if context is not None:
                smtp.starttls(context, HOST)
                smtp.ehlo("bench.example")
        except Exception:
            smtp.close()
            raise
        return smtp

    def connect(index: int) -> tuple[Callable[[int], None], Callable[[], None]]:
        if per_connection:

            def send_alone(n: int) -> None:
                with open_session() as smtp:
                    smtp.send(sender, recipient, mails[n % len(mails)], stuffed=True)

            return send_alone, lambda: None
        smtp = open_session()

        def send(n: int) -> None:
            smtp.send(sender, recipient, mails[n % len(mails)], stuffed=True)

        return send, smtp.quit

    what = f"{'STARTTLS' if context else 'plain'} {'per message' if per_connection else 'kept'}"
    return timed_round(server.pid, CLIENTS, connect, seconds, what)


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    rounds, seconds = (1, 1.0) if args.quick else (3, 4.0)
    report = Report("smtp_tls", args.quick)
    shapes = [(False, "many messages per connection"), (True, "one message per connection")]
    results: dict[tuple[bool, bool], list[Round]] = {}
    with Server() as server:
        context = ssl.create_default_context(cafile=server.ca_file)
        api = Api(server.base_url)
        inbox = api.create_inbox()
        recipient, sender = inbox["address"], "load@client.example"
        mails = [LeanSmtp.stuff(m) for m in sized_mails(sender, recipient, 400, MESSAGE_SIZE)]
        for per_connection, _ in shapes:  # warm both paths
            for tls in (False, True):
                run_round(
                    server, context if tls else None, per_connection, sender, recipient, mails, 0.3
                )
        for _ in range(rounds):
            for per_connection, label in shapes:
                for tls in (False, True):
                    done = run_round(
                        server,
                        context if tls else None,
                        per_connection,
                        sender,
                        recipient,
                        mails,
                        seconds,
                    )
                    results.setdefault((per_connection, tls), []).append(done)
                    print(
                        f"  {label}, {'STARTTLS' if tls else 'plain'}: {done.rate:,.0f} msg/s "
                        f"(server CPU {done.server_cpu:.0%}, client CPU {done.client_cpu:.0%})",
                        flush=True,
                    )
        api.close()
    for per_connection, label in shapes:
        plain = median([r.rate for r in results[(per_connection, False)]])
        tls = median([r.rate for r in results[(per_connection, True)]])
        report.add(f"plain SMTP, {label} (median)", plain, "msg/s")
        report.add(f"STARTTLS, {label} (median)", tls, "msg/s")
        report.add(
            f"STARTTLS / plain, {label}",
            tls / plain,
            "x",
            at_least=0.6 if not per_connection else None,
        )
    report.note(
        f"{CLIENTS} clients x {rounds} round(s) of {seconds:g} s per case, ~{MESSAGE_SIZE} B "
        "messages; the client verifies the certificate against the sandbox CA"
    )
    report.emit(args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bounded disk: the WAL file's size during and after a burst of 20,000 messages over SMTP.

4 raw-socket SMTP clients (``LeanSmtp``) deliver 20,000 messages of about 5 KB (``--quick``:
2,000) into one inbox as fast as the sandbox takes them; the size of the database's WAL file
is sampled every 100 ms during the burst and for 15 s after its end.

Target: the WAL is <= 64 MB within 10 s of the burst's end.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from _common import HOST, Api, LeanSmtp, Report, Server, parser, profiled, sized_mails

CLIENTS = 4
MESSAGE_SIZE = 5 * 1024
AFTER = 15.0  # seconds of sampling after the burst
MB = 1024 * 1024


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    total = 2000 if args.quick else 20_000
    report = Report("wal_burst", args.quick)
    with Server() as server:
        api = Api(server.base_url)
        inbox = api.create_inbox()
        sender = "burst@load.example"
        originals = sized_mails(sender, inbox["address"], 400, MESSAGE_SIZE)
        mails = [LeanSmtp.stuff(m) for m in originals]
        wal = Path(f"{server.db}-wal")
        samples: list[tuple[float, int]] = []
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.1):
                size = wal.stat().st_size if wal.exists() else 0
                samples.append((time.perf_counter(), size))

        errors: list[str] = []

        def client(index: int) -> None:
            try:
                with LeanSmtp(HOST, server.smtp_port) as smtp:
                    smtp.ehlo("load.example")
                    for n in range(index, total, CLIENTS):
                        smtp.send(sender, inbox["address"], mails[n % len(mails)], stuffed=True)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with profiled(server.pid, "wal_burst", args.profile):
            began = time.perf_counter()
            clients = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
            for thread in clients:
                thread.start()
            for thread in clients:
                thread.join()
            ended = time.perf_counter()
            time.sleep(AFTER)
        sampling.set()
        sampler.join()
        db_size = os.path.getsize(server.db)
        api.close()
    if errors:
        raise RuntimeError(f"an SMTP client failed: {errors[0]}")
    during = [size for when, size in samples if when <= ended]
    at_ten = [size for when, size in samples if when <= ended + 10]
    small_again = next(
        (when - ended for when, size in samples if when > ended and size <= 64 * MB), None
    )
    report.add("WAL 10 s after the burst", at_ten[-1] / MB, "MB", at_most=64)
    report.add("WAL, largest during the burst", max(during, default=0) / MB, "MB")
    report.add("burst end -> WAL <= 64 MB", small_again if small_again is not None else AFTER, "s")
    report.add("WAL at the end", samples[-1][1] / MB, "MB")
    report.add("database file", db_size / MB, "MB")
    report.add("burst rate", total / (ended - began), "msg/s")
    report.note(f"{total} messages of ~{MESSAGE_SIZE // 1024} KB from {CLIENTS} SMTP clients")
    report.emit(args.json_out)
    return 0 if all(m.met is not False for m in report.metrics) else 1


if __name__ == "__main__":
    sys.exit(main())

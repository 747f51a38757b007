"""Web console pages over 200 inboxes and 100,000 messages.

The data is filled in-process through the sandbox's own domain layer (``Services``:
``Messages.insert`` in large transactions, so every row and thread is the one delivery would
write; send counts through ``store.sends``): 200 inboxes of one account, one of them holding
10,000 messages and the other 199 sharing 90,000, with 14 days of sends each. A sandbox
subprocess is then opened on that file and the console's pages are fetched over HTTP, one
client, interleaved with the API's own list calls as the baseline of the same run.

Targets (server time, measured as the response time over 127.0.0.1 with keep-alive): the
overview <= 300 ms; the page of the inbox with 10,000 messages <= 150 ms.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

from _common import RESULTS, Api, Report, Server, parser, percentile, profiled

KEY = "mb_bench_console"
INBOXES = 200
MESSAGES = 100_000
BIG_INBOX = 10_000
CHART_DAYS = 14


def fill(db: str, inboxes: int, messages: int, big: int, seed: int = 7) -> str:
    """Create the account's inboxes and their mail; the id of the inbox holding ``big``."""
    from mailbot_sandbox.config import load_config
    from mailbot_sandbox.core import messages as message_module
    from mailbot_sandbox.core import threads as thread_module
    from mailbot_sandbox.core.inboxes import NewInbox
    from mailbot_sandbox.core.services import Services
    from mailbot_sandbox.mail.message import ParsedMail
    from mailbot_sandbox.store import sends

    rng = random.Random(seed)
    ids = random.Random(seed + 1)
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

    # Ids as the sandbox makes them, from a seeded PRNG: secrets.choice costs a syscall a
    # character, and ids are nothing the pages measured here depend on.
    def fast_id(prefix: str) -> str:
        return f"{prefix}_{''.join(ids.choices(alphabet, k=20))}"

    subjects = [
        "Your order has shipped",
        "Invoice available",
        "Reset your password",
        "Welcome aboard",
        "Weekly digest",
        "Meeting notes",
        "Your receipt",
        "Action required: verify your email",
    ]
    services = Services(load_config({"db": db}, environ={}))
    services.store.conn.execute("PRAGMA synchronous=OFF")  # filling is set-up, not measured
    patches = [patch.object(m, "new_id", fast_id) for m in (message_module, thread_module)]
    for active in patches:
        active.start()
    try:
        account = services.accounts.for_key(KEY)
        boxes = [
            services.inboxes.create(account, NewInbox(username=f"app{n:03d}"))
            for n in range(inboxes)
        ]
        # The big inbox gets its share; the others split the rest evenly.
        share = [big] + [(messages - big) // (inboxes - 1)] * (inboxes - 1)
        share[-1] += messages - sum(share)
        today = datetime.now(UTC).date()
        with services.store.write() as store:
            for box in boxes:
                for back in range(CHART_DAYS):
                    day = (today - timedelta(days=back)).isoformat()
                    for _ in range(rng.randint(0, 4)):
                        sends.count_send(store.conn, box["id"], day)
        batch = 5000
        pending = [(box, n) for box, count in zip(boxes, share, strict=True) for n in range(count)]
        for start in range(0, len(pending), batch):
            with services.store.write() as store:
                for box, n in pending[start : start + batch]:
                    inbound = rng.random() < 0.8
                    peer = f"user{rng.randrange(5000)}@example.com"
                    subject = f"{rng.choice(subjects)} #{n}"
                    content = ParsedMail(
                        from_address=peer if inbound else box["address"],
                        subject=subject,
                        to_addresses=[box["address"]] if inbound else [peer],
                        body_text=f"Message {n} of {box['address']}.",
                        message_id=f"<{n}.{box['id']}@bench.example>",
                    )
                    raw = (
                        f"From: {content.from_address}\r\nTo: {content.to_addresses[0]}\r\n"
                        f"Subject: {subject}\r\n\r\n{content.body_text}\r\n"
                    ).encode()
                    services.messages.insert(
                        store.conn,
                        account_id=account.id,
                        inbox_id=box["id"],
                        direction="inbound" if inbound else "outbound",
                        status="received" if inbound else "sent",
                        content=content,
                        raw_id=services.messages.store_raw(store.conn, raw),
                        size=len(raw),
                    )
        return str(boxes[0]["id"])
    finally:
        for active in patches:
            active.stop()
        services.close()


def cached_fill(fresh: bool) -> tuple[str, str, float, bool]:
    """The filled database, reused from ``benchmarks/results/cache`` while the code that
    shapes its rows is unchanged; (path, big inbox id, fill seconds, reused)."""
    import hashlib
    import inspect
    import json

    from mailbot_sandbox.core import messages, threads
    from mailbot_sandbox.store import schema

    fingerprint = hashlib.sha256()
    for source in (
        inspect.getsource(fill),
        *(Path(m.__file__ or "").read_bytes().decode() for m in (schema, messages, threads)),
    ):
        fingerprint.update(source.encode())
    folder = RESULTS / "cache"
    db = folder / f"console-{MESSAGES}-{fingerprint.hexdigest()[:16]}.db"
    meta = db.with_suffix(".json")
    if not fresh and db.exists() and meta.exists():
        saved = json.loads(meta.read_text())
        return str(db), saved["inbox_id"], saved["fill_seconds"], True
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("console-*"):
        old.unlink()
    began = time.perf_counter()
    inbox_id = fill(str(db), INBOXES, MESSAGES, BIG_INBOX)
    seconds = time.perf_counter() - began
    meta.write_text(json.dumps({"inbox_id": inbox_id, "fill_seconds": seconds}))
    return str(db), inbox_id, seconds, False


def time_pages(
    api: Api, pages: dict[str, str], rounds: int, budget: float
) -> dict[str, list[float]]:
    """GET each page up to ``rounds`` times, interleaved, stopping after ``budget`` seconds
    (at least one round); milliseconds per request."""
    times: dict[str, list[float]] = {label: [] for label in pages}
    order = list(pages.items())
    stop = time.perf_counter() + budget
    for n in range(rounds):
        random.Random(n).shuffle(order)
        for label, path in order:
            begin = time.perf_counter()
            response = api.request("GET", path)
            elapsed = (time.perf_counter() - begin) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
            times[label].append(elapsed)
        if time.perf_counter() > stop:
            break
    return times


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--fresh", action="store_true", help="refill even if a cached file fits")
    args = p.parse_args()
    report = Report("console", args.quick)
    began = time.perf_counter()
    if args.quick:
        folder = tempfile.TemporaryDirectory(prefix="mailbot-console-")
        db = str(Path(folder.name) / "console.db")
        big_inbox = fill(db, 20, 2_000, 1_000)
        fill_seconds, reused, rounds = time.perf_counter() - began, False, 3
    else:
        db, big_inbox, fill_seconds, reused = cached_fill(args.fresh)
        rounds = 30
    done = "reused" if reused else "filled"
    print(f"  {done} the data ({fill_seconds:.1f} s to fill)", flush=True)
    pages = {
        "overview (first page of cards)": "/",
        "overview, page 2": "/?page=2",
        "inbox page (the biggest inbox)": f"/inboxes/{big_inbox}",
        "inbox page, deep (page 100)": f"/inboxes/{big_inbox}?page=100",
        "baseline: GET /v1/inboxes?limit=100": "/v1/inboxes?limit=100",
        "baseline: GET /v1/inboxes/{id}/messages?limit=50": (
            f"/v1/inboxes/{big_inbox}/messages?limit=50"
        ),
        "baseline: GET /health": "/health",
    }
    budget = max(5.0, 150 - (time.perf_counter() - began))
    with Server(db=db) as server:
        api = Api(server.base_url, KEY)
        time_pages(api, pages, 1, 0)  # warm the page cache
        with profiled(server.pid, "console", args.profile):
            times = time_pages(api, pages, rounds, budget)
        api.close()
    targets = {"overview (first page of cards)": 300, "inbox page (the biggest inbox)": 150}
    for label, values in times.items():
        report.add(f"{label}: p50", percentile(values, 50), "ms", at_most=targets.get(label))
    for label in targets:
        report.add(f"{label}: p90", percentile(times[label], 90), "ms")
    report.note(
        f"{INBOXES if not args.quick else 20} inboxes, "
        f"{MESSAGES if not args.quick else 2_000:,} messages ({'cached; ' if reused else ''}"
        f"fill took {fill_seconds:.0f} s); {len(times['baseline: GET /health'])} rounds"
    )
    report.emit(args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""API send throughput: inbox A -> inbox B (both sandbox inboxes), keep-alive HTTP clients.

A few client threads, each with its own keep-alive connection and its own sender inbox, post
``POST /v1/inboxes/{A}/messages`` to one recipient inbox B until the round's time is up;
every answer must be 201 with status ``delivered``. Internal delivery stores the sender's copy
and B's copy in one transaction.

The load generator is a raw-socket HTTP client (:class:`_common.LeanHttp`) posting JSON encoded
once up front, because on a 2-core machine ``requests``' own CPU cost (~2 ms per request, half
a core) was taken from the server being measured.

Target: >= 500 messages/s.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from _common import (
    Api,
    LeanHttp,
    Report,
    Round,
    Server,
    median,
    parser,
    profiled,
    timed_round,
)

CLIENTS = 4


def bodies(recipient: str, count: int) -> list[dict[str, object]]:
    """Send requests with varied, realistic subjects and ~1 KB plain-text bodies."""
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(7)
    return [
        {
            "to": [recipient],
            "subject": fake.sentence(nb_words=6).rstrip("."),
            "body_text": "\n\n".join(fake.paragraph(nb_sentences=5) for _ in range(3)),
        }
        for _ in range(count)
    ]


def run_round(
    base_url: str,
    key: str,
    pid: int,
    senders: list[str],
    payloads: list[bytes],
    seconds: float,
) -> Round:
    """``CLIENTS`` connections post the JSON ``payloads`` for ``seconds``; all must deliver."""

    def connect(index: int) -> tuple[Callable[[int], None], Callable[[], None]]:
        http = LeanHttp(base_url, key)
        path = f"/v1/inboxes/{senders[index]}/messages"
        status, body = http.get(f"/v1/inboxes/{senders[index]}")  # open the connection
        if status != 200:
            http.close()
            raise RuntimeError(f"{status} {body[:200].decode(errors='replace')}")

        def send(n: int) -> None:
            status, body = http.post_json(path, payloads[n % len(payloads)])
            if status != 201:
                raise RuntimeError(f"{status} {body[:200].decode(errors='replace')}")
            if json.loads(body)["data"]["status"] != "delivered":
                raise RuntimeError(f"not delivered: {body[:200].decode(errors='replace')}")

        return send, http.close

    return timed_round(pid, CLIENTS, connect, seconds, "API")


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    rounds, seconds = (1, 1.5) if args.quick else (3, 5.0)
    report = Report("api_send", args.quick)
    with Server() as server:
        api = Api(server.base_url)
        recipient = api.create_inbox(username="recipient")
        # One sender per client; the highest daily limit, far above what a run sends.
        senders = [
            api.create_inbox(username=f"sender{i}", daily_send_limit=10_000)["id"]
            for i in range(CLIENTS)
        ]
        payloads = [json.dumps(b).encode() for b in bodies(recipient["address"], 300)]
        run_round(server.base_url, api.key, server.pid, senders, payloads, 0.5)  # warm-up
        results: list[Round] = []
        index_seconds: list[float] = []
        for _ in range(rounds):
            index_seconds.append(api.catch_up_index(recipient["id"]))
            with profiled(server.pid, "api_send", args.profile and not results):
                results.append(
                    run_round(server.base_url, api.key, server.pid, senders, payloads, seconds)
                )
            print(
                f"  round: {results[-1].rate:,.0f} msg/s (server CPU "
                f"{results[-1].server_cpu:.0%}, client CPU {results[-1].client_cpu:.0%})",
                flush=True,
            )
        received = api.ok("GET", f"/v1/inboxes/{recipient['id']}")["message_count"]
        connection = api.request("GET", "/health").headers.get("Connection", "keep-alive")
        api.close()
    report.add("API send A -> B (median)", median([r.rate for r in results]), "msg/s", at_least=500)
    report.add("server CPU", 100 * median([r.server_cpu for r in results]), "%")
    report.add("load generator CPU", 100 * median([r.client_cpu for r in results]), "%")
    report.note(
        f"search indexing is deferred until mail pauses: catching up before a round took "
        f"{1000 * max(index_seconds):,.0f} ms at most (a search waits for it)"
    )
    report.note(
        f"{CLIENTS} keep-alive clients x {rounds} round(s) of {seconds:g} s, ~1 KB text bodies; "
        f"inbox B holds {received} delivered copies"
    )
    if connection.lower() == "close":
        report.note(
            "the server answers 'Connection: close': every request opened a new TCP connection "
            "(and a new server thread) although the clients keep sessions"
        )
    report.emit(args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

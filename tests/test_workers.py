"""``serve`` with several worker processes on one database file, as users run it by default.

Every rule must hold across processes: a wait parked in one worker wakes for mail stored by
another, daily limits stay exact, the clock moves for all, and /metrics counts everything.
Connections are handed to the workers in turn, so N keep-alive clients reach both.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import signal
import smtplib
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import (
    SERVE,
    EventStream,
    environ_without_settings,
    metric,
    smtp_message,
    wait_until_parked,
)
from tests.receiver import Receiver

WORKERS = 2


class Served:
    def __init__(self, process: subprocess.Popen[str], banner: str) -> None:
        self.process = process
        self.banner = banner
        api = re.search(r"API\s+(http://\S+)/v1", banner)
        smtp = re.search(r"SMTP\s+\S+:(\d+)", banner)
        assert api and smtp, banner
        self.base_url = api.group(1)
        self.smtp_port = int(smtp.group(1))

    def client(self, key: str) -> requests.Session:
        """A keep-alive client: its own connection, so the next worker in turn."""
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        return session

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


def serve(db: Path) -> Served:
    """``serve`` on ``db`` with :data:`WORKERS` workers, once its banner is out."""
    process = subprocess.Popen(
        [*SERVE, "--db", str(db), "--workers", str(WORKERS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ_without_settings(),
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Press Ctrl+C"):
            break
    return Served(process, "".join(lines))


def stop(served: Served) -> None:
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGTERM)
    served.process.communicate(timeout=30)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    served = serve(tmp_path / "mail.db")
    yield served
    stop(served)


def clients(served: Served, key: str, count: int = WORKERS * 2) -> list[requests.Session]:
    sessions = [served.client(key) for _ in range(count)]
    for session in sessions:  # open each connection now, in order: one per worker in turn
        assert session.get(f"{served.base_url}/health").status_code == 200
    return sessions


def new_inbox(session: requests.Session, base_url: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("username", f"w{uuid.uuid4().hex[:10]}")
    response = session.post(f"{base_url}/v1/inboxes", json=fields)
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_banner_names_the_workers(served: Served) -> None:
    assert f"workers  {WORKERS} processes, and 1 for webhook deliveries" in served.banner
    assert len(served.worker_pids()) == WORKERS + 1


def test_every_worker_is_ready(served: Served) -> None:
    for session in clients(served, f"mb_{uuid.uuid4().hex}"):
        response = session.get(f"{served.base_url}/ready")
        assert response.status_code == 200, response.text
        assert response.json()["checks"]["smtp"] == "ok"


def test_waits_in_every_worker_wake_for_smtp_mail(served: Served) -> None:
    key = f"mb_{uuid.uuid4().hex}"
    sessions = clients(served, key)
    inbox = new_inbox(sessions[0], served.base_url)
    answers: dict[int, tuple[int, float]] = {}

    def wait(index: int) -> None:
        started = time.monotonic()
        response = sessions[index].get(
            f"{served.base_url}/v1/inboxes/{inbox['id']}/messages/wait",
            params={"timeout_ms": 15000, "subject_contains": "cross"},
        )
        answers[index] = (response.status_code, time.monotonic() - started)

    threads = [threading.Thread(target=wait, args=(i,)) for i in range(len(sessions))]
    for thread in threads:
        thread.start()
    wait_until_parked(served.base_url, len(sessions))  # summed over both workers
    with smtplib.SMTP("127.0.0.1", served.smtp_port) as smtp:
        smtp.sendmail(
            "a@client.example",
            [inbox["address"]],
            smtp_message("a@client.example", [inbox["address"]], subject="cross"),
        )
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(answers) == list(range(len(sessions)))
    for status, seconds in answers.values():
        assert status == 200
        assert seconds < 5, "a wait must wake on arrival, not time out"


def test_daily_limit_is_exact_across_workers(served: Served) -> None:
    key = f"mb_{uuid.uuid4().hex}"
    sessions = clients(served, key, count=6)
    sender = new_inbox(sessions[0], served.base_url, daily_send_limit=20)
    receiver = new_inbox(sessions[0], served.base_url)
    codes: list[int] = []
    lock = threading.Lock()

    def burst(session: requests.Session) -> None:
        for _ in range(9):
            response = session.post(
                f"{served.base_url}/v1/inboxes/{sender['id']}/messages",
                json={"to": [receiver["address"]], "subject": "race", "body_text": "x"},
            )
            with lock:
                codes.append(response.status_code)

    threads = [threading.Thread(target=burst, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes.count(201) == 20
    assert codes.count(429) == len(codes) - 20
    listed = sessions[1].get(f"{served.base_url}/v1/inboxes/{receiver['id']}/messages").json()
    assert len(listed["data"]) == 20


def test_clock_moves_for_every_worker(served: Served) -> None:
    key = f"mb_{uuid.uuid4().hex}"
    sessions = clients(served, key)
    sender = new_inbox(sessions[0], served.base_url, daily_send_limit=1)
    body = {"to": ["someone@example.com"], "subject": "s", "body_text": "x"}
    url = f"{served.base_url}/v1/inboxes/{sender['id']}/messages"
    assert sessions[0].post(url, json=body).status_code == 201
    assert sessions[1].post(url, json=body).status_code == 429
    moved = sessions[0].post(f"{served.base_url}/sandbox/v1/clock", json={"advance_seconds": 86400})
    assert moved.status_code == 200, moved.text
    # The very next request, on the other worker, already lives in tomorrow.
    assert sessions[1].post(url, json=body).status_code == 201


def test_metrics_count_every_worker(served: Served) -> None:
    key = f"mb_{uuid.uuid4().hex}"
    sessions = clients(served, key)
    inbox = new_inbox(sessions[0], served.base_url)
    connections = 4
    for n in range(connections):  # handed out in turn: both workers store some
        with smtplib.SMTP("127.0.0.1", served.smtp_port) as smtp:
            for m in range(3):
                smtp.sendmail(
                    "a@client.example",
                    [inbox["address"]],
                    smtp_message("a@client.example", [inbox["address"]], subject=f"m{n}-{m}"),
                )
    text = sessions[1].get(f"{served.base_url}/metrics").text
    received = re.search(r"^mailbot_messages_received_total (\S+)$", text, re.M)
    assert received and float(received.group(1)) == connections * 3, text
    sessions_line = re.search(r"^mailbot_smtp_sessions_total (\S+)$", text, re.M)
    assert sessions_line and float(sessions_line.group(1)) >= connections
    assert "inbox_id" not in text  # label values stay bounded


def test_a_crashed_worker_stops_the_sandbox_with_an_error(served: Served) -> None:
    os.kill(served.worker_pids()[1], signal.SIGKILL)
    _, err = served.process.communicate(timeout=30)
    assert served.process.returncode == 1
    assert "worker process ended unexpectedly" in err
    assert "Traceback" not in err


def test_sigint_stops_every_worker(served: Served) -> None:
    pids = served.worker_pids()
    served.process.send_signal(signal.SIGINT)
    _, err = served.process.communicate(timeout=30)
    assert served.process.returncode == 0, err
    assert "Traceback" not in err
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


def test_ctrl_c_while_the_workers_start_stops_them_all_quietly(tmp_path: Path) -> None:
    # Ctrl+C in a terminal signals the whole foreground process group. Sent while the
    # workers are still starting, it must stop every one of them, without a traceback.
    process = subprocess.Popen(
        [*SERVE, "--db", str(tmp_path / "mail.db"), "--workers", str(WORKERS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ_without_settings(),
        start_new_session=True,  # a group of its own, as a shell gives a command
    )
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    deadline = time.monotonic() + 20
    while not (pids := [int(pid) for pid in children.read_text().split()]):
        assert time.monotonic() < deadline, "serve started no worker"
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGINT)  # the first worker is still importing
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


def test_memory_database_runs_one_process(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*SERVE, "--db", ":memory:", "--workers", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ_without_settings(),
    )
    assert process.stdout is not None
    banner = ""
    for line in process.stdout:
        banner += line
        if line.startswith("Press Ctrl+C"):
            break
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert "workers  1 process\n" in banner


def test_streams_in_every_worker_get_events_stored_by_any(served: Served) -> None:
    key = f"mb_{uuid.uuid4().hex}"
    session = clients(served, key, count=1)[0]
    inbox = new_inbox(session, served.base_url)
    # One connection each, handed to the workers in turn: both workers hold streams.
    streams = [
        EventStream(served.base_url, key, f"/v1/inboxes/{inbox['id']}/stream")
        for _ in range(WORKERS * 2)
    ]
    try:
        wait_until_streams(served.base_url, len(streams))
        with smtplib.SMTP("127.0.0.1", served.smtp_port) as smtp:
            smtp.sendmail(
                "a@client.example",
                [inbox["address"]],
                smtp_message("a@client.example", [inbox["address"]], subject="everywhere"),
            )
        received = [stream.next_event() for stream in streams]
        # an event without mail (the inbox changed, in one worker) reaches them too
        changed = session.patch(
            f"{served.base_url}/v1/inboxes/{inbox['id']}", json={"display_name": "New"}
        )
        assert changed.status_code == 200, changed.text
        updated = [stream.next_event() for stream in streams]
    finally:
        for stream in streams:
            stream.close()
    assert {event["data"]["data"]["subject"] for event in received} == {"everywhere"}
    assert len({event["id"] for event in received}) == 1  # the same event everywhere
    assert {event["event"] for event in updated} == {"inbox.updated"}


def wait_until_streams(base_url: str, count: int, timeout: float = 10) -> None:
    """Return once ``count`` streams are open, summed over the workers."""
    deadline = time.monotonic() + timeout
    while (open_now := metric(base_url, "mailbot_streams_open")) < count:
        assert time.monotonic() < deadline, f"{open_now:g} of {count} streams open"
        time.sleep(0.01)  # between two reads of the signal, not instead of one


def subscribed(
    served: Served, receiver: Receiver
) -> tuple[requests.Session, dict[str, Any], dict[str, Any]]:
    """A client of a new account, an inbox of it, and the account's webhook for
    ``message.received`` at ``receiver``."""
    session = clients(served, f"mb_{uuid.uuid4().hex}", count=1)[0]
    inbox = new_inbox(session, served.base_url)
    response = session.post(
        f"{served.base_url}/v1/webhooks",
        json={"url": receiver.url, "events": ["message.received"]},
    )
    assert response.status_code == 201, response.text
    return session, inbox, response.json()["data"]


def test_mail_at_either_worker_reaches_a_webhook_once_signed(served: Served) -> None:
    with Receiver() as receiver:
        session, inbox, webhook = subscribed(served, receiver)
        subjects = [f"worker mail {n}" for n in range(WORKERS * 3)]
        for subject in subjects:  # one connection each: the workers take them in turn
            with smtplib.SMTP("127.0.0.1", served.smtp_port) as smtp:
                smtp.sendmail(
                    "a@client.example",
                    [inbox["address"]],
                    smtp_message("a@client.example", [inbox["address"]], subject=subject),
                )
        arrived = receiver.events("message.received", count=len(subjects), timeout=20)
        log = f"{served.base_url}/v1/webhooks/{webhook['id']}/deliveries"
        deadline = time.monotonic() + 10
        while True:  # until the log says every delivery is done: nothing more on its way
            deliveries = session.get(log, params={"limit": 100}).json()["data"]
            if {d["status"] for d in deliveries} == {"succeeded"} or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(deliveries) == len(subjects) + 1  # and the test event
        assert all(d["attempt_count"] == 1 for d in deliveries), deliveries
        received = [r for r in receiver.received if r.headers["X-Mailbot-Event"] != "webhook.test"]
    assert sorted(r.json["data"]["subject"] for r in received) == sorted(subjects)  # once each
    secret = webhook["secret"].encode()
    for delivery in arrived:
        expected = hmac.new(secret, delivery.body, hashlib.sha256).hexdigest()
        assert delivery.headers["X-Mailbot-Signature"] == expected


def test_mail_stored_while_the_deliverer_was_down_is_delivered_when_it_is_back(
    served: Served, tmp_path: Path
) -> None:
    # The workers only record events; the deliverer (the last process, handed no
    # connections) queues their deliveries from its position in the event log, which is in
    # the database: mail stored while it was stopped, and then killed, is delivered by the
    # next one, once each.
    with Receiver() as receiver:
        session, inbox, webhook = subscribed(served, receiver)
        receiver.events("webhook.test")
        log = f"{served.base_url}/v1/webhooks/{webhook['id']}/deliveries"
        deadline = time.monotonic() + 10
        while session.get(log).json()["data"][0]["status"] != "succeeded":
            assert time.monotonic() < deadline, "the test event's outcome was never written"
            time.sleep(0.05)
        # Idle now (its outcome written): stopped, it holds no write lock the workers need.
        pids = served.worker_pids()
        assert len(pids) == WORKERS + 1
        os.kill(pids[-1], signal.SIGSTOP)
        subjects = [f"while down {n}" for n in range(3)]
        for subject in subjects:
            with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=10) as smtp:
                smtp.sendmail(
                    "a@client.example",
                    [inbox["address"]],
                    smtp_message("a@client.example", [inbox["address"]], subject=subject),
                )
        time.sleep(0.5)
        assert [
            r for r in receiver.received if r.headers["X-Mailbot-Event"] != "webhook.test"
        ] == []
        os.kill(pids[-1], signal.SIGKILL)
        session.close()
        stop(served)
        again = serve(tmp_path / "mail.db")
        try:
            arrived = receiver.events("message.received", count=3, timeout=20)
            time.sleep(0.5)  # a second copy would have arrived by now
            received = [
                r for r in receiver.received if r.headers["X-Mailbot-Event"] != "webhook.test"
            ]
        finally:
            stop(again)
    assert sorted(r.json["data"]["subject"] for r in arrived) == subjects
    assert len(received) == len(subjects)

"""Crash safety: ``kill -9`` of the supervisor or a worker at random moments under SMTP,
SMTP-AUTH and API load loses nothing that was acknowledged and stores nothing twice.

Each round starts ``serve`` (two workers) on the same database file, loads it from three
clients for a random moment, and kills one process with SIGKILL. Between rounds the
database must pass SQLite's integrity check; after each restart every acknowledged message
is present exactly once and byte-exact, the sender's daily counter equals its stored sends,
and no folder is left in the temp dir.
"""

from __future__ import annotations

import os
import random
import re
import signal
import smtplib
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
import requests

from mailbot_sandbox.store import Store
from tests.helpers import SERVE, environ_without_settings

pytestmark = pytest.mark.slow

KILLS = 20


@dataclass
class Acked:
    """What the clients were told was stored: subject -> raw bytes (or None for API sends),
    and the message id each answer named."""

    plain: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # via plain SMTP
    auth: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # SMTP-AUTH, sender
    api: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # via the API
    unchecked: list[str] = field(default_factory=list)  # acked since the last byte check
    lock: threading.Lock = field(default_factory=threading.Lock)


class Served:
    """One ``serve`` run on the shared database."""

    def __init__(self, db: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [*SERVE, "--db", str(db), "--workers", "2", "--log-level", "warning"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        _leftovers.append(self.process)
        assert self.process.stdout is not None
        banner = ""
        for line in self.process.stdout:
            banner += line
            if line.startswith("Press Ctrl+C"):
                break
        api = re.search(r"API\s+(http://\S+)/v1", banner)
        smtp = re.search(r"SMTP\s+\S+:(\d+)", banner)
        assert api and smtp, banner
        self.base_url = api.group(1)
        self.smtp_port = int(smtp.group(1))
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        self.workers = [int(pid) for pid in children.read_text().split()]

    def kill(self, rng: random.Random) -> str:
        """SIGKILL the supervisor or one worker; wait until every process of the run is gone."""
        victim = rng.choice([self.process.pid, *self.workers])
        os.kill(victim, signal.SIGKILL)
        self.process.communicate(timeout=60)  # a dead worker makes the supervisor stop
        deadline = time.monotonic() + 60
        while any(_alive(pid) for pid in self.workers):
            assert time.monotonic() < deadline, "workers outlived their run"
            time.sleep(0.05)
        return "supervisor" if victim == self.process.pid else "worker"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _mail(sender: str, to: str, subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@client.example>"
    message.set_content(f"{subject}\n" + "line of text\n" * 20)
    return message.as_bytes(policy=SMTP)  # CRLF, as an SMTP server stores it


def _load_smtp(run: Served, acked: Acked, stop: threading.Event, to: str, login: Any) -> None:
    """Send over SMTP until the server goes away; ``login`` = (address, key) for SMTP-AUTH."""
    sender = login[0] if login else "outside@client.example"
    try:
        with smtplib.SMTP("127.0.0.1", run.smtp_port, timeout=10) as client:
            if login:
                client.login(*login)
            while not stop.is_set():
                subject = f"{'auth' if login else 'plain'}-{uuid.uuid4().hex[:12]}"
                raw = _mail(sender, to, subject)
                client.mail(sender)
                client.rcpt(to)
                code, reply = client.data(raw)
                found = re.search(rb"msg_\w+", reply)
                if code != 250 or not found:
                    return
                with acked.lock:
                    kind = acked.auth if login else acked.plain
                    kind[subject] = (found.group().decode(), raw)
                    acked.unchecked.append(subject)
    except (OSError, smtplib.SMTPException):
        return  # killed


def _load_api(
    run: Served, acked: Acked, stop: threading.Event, key: str, sender: dict, to: str
) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    try:
        while not stop.is_set():
            subject = f"api-{uuid.uuid4().hex[:12]}"
            answer = session.post(
                f"{run.base_url}/v1/inboxes/{sender['id']}/messages",
                json={"to": [to], "subject": subject, "text": "sent over the API"},
                timeout=10,
            )
            if answer.status_code != 201:
                return
            message_id = answer.json()["data"]["id"]
            raw = session.get(
                f"{run.base_url}/v1/inboxes/{sender['id']}/messages/{message_id}/raw", timeout=10
            )
            if raw.status_code != 200:
                return
            with acked.lock:
                acked.api[subject] = (message_id, raw.content)
                acked.unchecked.append(subject)
    except requests.RequestException:
        return  # killed
    finally:
        session.close()


def _subjects(session: requests.Session, base_url: str, inbox_id: str) -> Counter[str]:
    found: Counter[str] = Counter()
    page = 1
    while True:
        answer = session.get(
            f"{base_url}/v1/inboxes/{inbox_id}/messages",
            params={"limit": 100, "page": page},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        found.update(message["subject"] for message in data)
        if len(data) < 100:
            return found
        page += 1


def _check(run: Served, key: str, sender: dict, receiver: dict, acked: Acked) -> int:
    """Every acknowledged message once and byte-exact; the daily counter equals the sends.
    Returns how many acknowledged messages were checked."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    received = _subjects(session, run.base_url, receiver["id"])
    sent = _subjects(session, run.base_url, sender["id"])
    with acked.lock:
        for subject in acked.plain:
            assert received[subject] == 1, subject
        for subject in [*acked.auth, *acked.api]:
            assert (received[subject], sent[subject]) == (1, 1), subject
        unchecked, acked.unchecked = acked.unchecked, []
        total = len(acked.plain) + len(acked.auth) + len(acked.api)
    for subject in unchecked:  # byte-exact, for what was acknowledged since the last check
        if subject in acked.plain:
            inbox, (message_id, raw) = receiver, acked.plain[subject]
        else:
            inbox, (message_id, raw) = sender, acked.auth.get(subject) or acked.api[subject]
        answer = session.get(
            f"{run.base_url}/v1/inboxes/{inbox['id']}/messages/{message_id}/raw", timeout=10
        )
        assert answer.content == raw, subject
    counted = session.get(f"{run.base_url}/v1/inboxes/{sender['id']}", timeout=10)
    assert counted.json()["data"]["sends_today"] == sum(sent.values())
    session.close()
    return total


def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**environ_without_settings(), "TMPDIR": str(temp)}
    db = tmp_path / "data" / "mail.db"
    rng = random.Random(12)
    key = f"mb_{uuid.uuid4().hex}"
    acked = Acked()
    kills: Counter[str] = Counter()
    run = Served(db, env)
    auth = {"Authorization": f"Bearer {key}"}
    receiver = requests.post(
        f"{run.base_url}/v1/inboxes", json={"username": "receiver"}, headers=auth, timeout=10
    ).json()["data"]
    sender = requests.post(
        f"{run.base_url}/v1/inboxes",
        json={"username": "sender", "daily_send_limit": 10_000},
        headers=auth,
        timeout=10,
    ).json()["data"]
    checked = 0
    try:
        checked = _rounds(db, env, rng, key, acked, kills, run, sender, receiver)
    finally:
        for process in _leftovers:
            if process.poll() is None:
                process.kill()
            process.communicate()
    assert list(temp.iterdir()) == []
    assert sum(kills.values()) == KILLS
    assert checked > KILLS * 3  # the load really ran
    # The figure the README's reliability section quotes (seen with ``pytest -s``).
    print(f"\n{dict(kills)} kills survived, {checked} acknowledged messages checked")


_leftovers: list[subprocess.Popen[str]] = []


def _rounds(
    db: Path,
    env: dict[str, str],
    rng: random.Random,
    key: str,
    acked: Acked,
    kills: Counter[str],
    run: Served,
    sender: dict,
    receiver: dict,
) -> int:
    checked = 0
    temp = Path(env["TMPDIR"])
    for _ in range(KILLS):
        stop = threading.Event()
        clients = [
            threading.Thread(target=_load_smtp, args=(run, acked, stop, receiver["address"], None)),
            threading.Thread(
                target=_load_smtp,
                args=(run, acked, stop, receiver["address"], (sender["address"], key)),
            ),
            threading.Thread(
                target=_load_api, args=(run, acked, stop, key, sender, receiver["address"])
            ),
        ]
        for client in clients:
            client.start()
        time.sleep(rng.uniform(0.2, 1.2))  # a random moment under load
        kills[run.kill(rng)] += 1
        stop.set()
        for client in clients:
            client.join(timeout=30)
        store = Store(str(db), checkpoint=False)
        try:
            assert store.integrity_check() == ["ok"]
        finally:
            store.close()
        assert list(temp.iterdir()) == []
        run = Served(db, env)
        checked = _check(run, key, sender, receiver, acked)
    run.process.send_signal(signal.SIGTERM)
    run.process.communicate(timeout=60)
    return checked

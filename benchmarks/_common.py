"""Shared pieces of the benchmarks: a sandbox subprocess, HTTP clients, stats and reporting.

Every benchmark is a plain script (``python benchmarks/<name>.py``) that imports this module
from its own folder. Results are printed as a table; ``--json-out FILE`` also writes them as
JSON for ``run_all.py``; ``--profile`` records the server with py-spy while the measurement
runs and prints where its CPU time went.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = sys.executable
HOST = "127.0.0.1"


# -- command line ------------------------------------------------------------------------------
def parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a few-second smoke run (for CI)")
    p.add_argument("--json-out", metavar="FILE", help="also write the results as JSON here")
    p.add_argument(
        "--profile",
        action="store_true",
        help="record the server with py-spy during the measurement and print its hot spots",
    )
    return p


# -- the server under test ---------------------------------------------------------------------
class Server:
    """``python -m mailbot_sandbox serve`` on free ports, in its own process.

    A subprocess, so the load generator does not share the server's GIL. Stopped with SIGTERM.
    """

    def __init__(self, db: str | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if db is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mailbot-bench-")
            db = str(Path(self._tmp.name) / "mailbot.db")
        self.db = db
        self.proc: subprocess.Popen[str] | None = None
        self.api_url = ""
        self.base_url = ""
        self.smtp_port = 0
        self.smtps_port = 0
        self.ca_file = ""
        # Open for the server's whole life, so not a with-block.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115

    def start(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
        command = [PYTHON, "-m", "mailbot_sandbox", "serve", "--port", "0", "--smtp-port", "0"]
        command += ["--smtps-port", "0"]
        command += ["--db", self.db, "--log-level", "warning"]
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        for line in self.proc.stdout:
            if found := re.search(r"API\s+(http://\S+/v1)", line):
                self.api_url = found.group(1)
                self.base_url = self.api_url[: -len("/v1")]
            elif found := re.search(r"SMTP\s+\S+:(\d+)", line):
                self.smtp_port = int(found.group(1))
            elif found := re.search(r"SMTPS\s+\S+:(\d+)", line):
                self.smtps_port = int(found.group(1))
            elif found := re.search(r"CA\s+(\S+)", line):
                self.ca_file = found.group(1)
            elif "Press Ctrl+C" in line:
                break
            if time.monotonic() > deadline:
                break
        if not (self.api_url and self.smtp_port):
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            message = f"sandbox did not start: {self.errors()}"
            self.stop()
            raise RuntimeError(message)
        # Keep draining stdout so the server never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def errors(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-4000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self._stderr.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def serve_until_stopped(server: asyncio.Server, what: str) -> None:
    """The life of a :class:`Helper` script's ``server``: say ``<WHAT> 127.0.0.1:PORT`` (what
    :class:`Helper` waits for), serve until SIGTERM or SIGINT, then close."""
    loop = asyncio.get_running_loop()
    print(f"{what} 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


class Helper:
    """A script of this folder (``_bare_sink.py``, ``_webhook_receiver.py``) in its own
    process, which prints ``<WHAT> 127.0.0.1:PORT`` once it listens; stopped with SIGTERM
    (both in :func:`serve_until_stopped`)."""

    def __init__(self, script: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, str(Path(__file__).with_name(script)), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        found = re.search(r":(\d+)", line)
        if not found:
            self.stop()
            raise RuntimeError(f"{script} did not start: {line!r}")
        self.port = int(found.group(1))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process and its live child processes (the sandbox's
    workers) have used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = child_pids(current)
        except OSError:  # ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
        pending += children
    return total


def child_pids(pid: int) -> list[int]:
    """The live child processes of ``pid``, oldest first (Linux /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def own_cpu_seconds() -> float:
    """CPU seconds of this process (all its threads)."""
    return time.process_time()


# -- HTTP ------------------------------------------------------------------------------------
class Api:
    """A keep-alive HTTP client bound to one API key (one sandbox account)."""

    def __init__(self, base_url: str, key: str | None = None) -> None:
        self.base_url = base_url
        self.key = key or f"mb_bench_{uuid.uuid4().hex}"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.key}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, self.base_url + path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The ``data`` of a 2xx answer; raises with the body otherwise."""
        response = self.request(method, path, **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()["data"]  # type: ignore[no-any-return]

    def create_inbox(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("username", f"b{uuid.uuid4().hex[:12]}")
        return self.ok("POST", "/v1/inboxes", json=fields)

    def catch_up_index(self, inbox_id: str) -> float:
        """Seconds one search of ``inbox_id`` took: the sandbox fills its search index when
        mail pauses, and a search first catches it up, so after this none of that deferred
        work is left to land inside a timed round."""
        started = time.perf_counter()
        self.ok("POST", f"/v1/inboxes/{inbox_id}/messages/search", json={"query": "x"})
        return time.perf_counter() - started

    def close(self) -> None:
        self.session.close()


# -- lean load generators ----------------------------------------------------------------------
# The throughput benchmarks run client and server on the same (often 2-core) machine, so every
# CPU second the load generator spends is taken from the server. smtplib and requests cost
# 0.5-2 ms of client CPU per message; these clients do the bare minimum over a raw socket.


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection with Nagle's algorithm off (small request/reply exchanges)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class LeanSmtp:
    """A minimal SMTP client over one raw socket: EHLO, then one message per :meth:`send`.

    No PIPELINING (the sandbox does not offer it), so each command waits for its reply. Any
    reply other than the expected 2xx (354 for DATA) raises :class:`RuntimeError` naming the
    command and the reply. One instance per thread.
    """

    def __init__(self, host: str, port: int, timeout: float = 30) -> None:
        self.sock = _connect(host, port, timeout)
        self._buffer = bytearray()
        try:
            self._expect("greeting", "2")
        except BaseException:
            self.sock.close()
            raise

    @staticmethod
    def stuff(data: bytes) -> bytes:
        """``data`` as sent after DATA: CRLF line ends, ending in CRLF, leading dots doubled.

        Call it once per message up front and pass the result with ``stuffed=True``.
        """
        data = re.sub(rb"\r\n|\n|\r", b"\r\n", data)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        if data.startswith(b"."):
            data = b"." + data
        return data.replace(b"\r\n.", b"\r\n..")

    def ehlo(self, name: str) -> str:
        """Say EHLO; the server's full (multi-line) reply."""
        return self._command(f"EHLO {name}")

    def starttls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """STARTTLS, then the TLS handshake on this connection (say EHLO again after it)."""
        self._command("STARTTLS")
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)

    def send(self, mail_from: str, rcpt: str, data: bytes, *, stuffed: bool = False) -> str:
        """One message to one recipient; the server's final reply (``250 ...``).

        ``data`` is the raw message, or its :meth:`stuff` form when ``stuffed`` is true.
        """
        self._command(f"MAIL FROM:<{mail_from}>")
        self._command(f"RCPT TO:<{rcpt}>")
        self._command("DATA", "354")
        self.sock.sendall((data if stuffed else self.stuff(data)) + b".\r\n")
        return self._expect("end of DATA", "2")

    def quit(self) -> None:
        """Say QUIT (the reply is not checked) and close the connection."""
        try:
            self.sock.sendall(b"QUIT\r\n")
            self._reply()
        except OSError:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> LeanSmtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.quit()

    def _command(self, line: str, expected: str = "2") -> str:
        self.sock.sendall(line.encode() + b"\r\n")
        return self._expect(line, expected)

    def _expect(self, what: str, expected: str) -> str:
        """Read one reply; raise unless its code starts with ``expected``."""
        reply = self._reply()
        if not reply.startswith(expected):
            raise RuntimeError(f"SMTP {what!r}: unexpected reply {reply!r}")
        return reply

    def _reply(self) -> str:
        """One complete reply: ``250-...`` lines up to and including the final ``250 ...``."""
        start = 0
        while True:
            end = self._buffer.find(b"\r\n", start)
            if end < 0:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("SMTP server closed the connection")
                self._buffer += chunk
                continue
            is_last = self._buffer[start + 3 : start + 4] != b"-"
            start = end + 2
            if is_last:
                reply = self._buffer[: start - 2].decode("utf-8", "replace")
                del self._buffer[:start]
                return reply


class LeanHttp:
    """A minimal keep-alive HTTP/1.1 client over one raw socket, bound to one API key.

    Bodies are passed as bytes, so JSON can be encoded once up front. Responses must carry a
    Content-Length (the sandbox's always do). After ``Connection: close`` the next request opens
    a new connection. One instance per thread; ``http://`` only.
    """

    def __init__(self, base_url: str, key: str, timeout: float = 60) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"LeanHttp needs an http:// URL, not {base_url!r}")
        self.host = url.hostname
        self.port = url.port or 80
        self.prefix = url.path.rstrip("/")
        self.timeout = timeout
        self._headers = (
            f"Host: {url.netloc}\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\n"
        )
        self.sock: socket.socket | None = None
        self._buffer = bytearray()

    def post_json(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST an already encoded JSON ``body``; (status, response body)."""
        return self._request("POST", path, body)

    def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path``; (status, response body)."""
        return self._request("GET", path, b"")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self._buffer.clear()

    def __enter__(self) -> LeanHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = _connect(self.host, self.port, self.timeout)
        head = (
            f"{method} {self.prefix}{path} HTTP/1.1\r\n{self._headers}"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.sock.sendall(head.encode() + body)
        return self._response(f"{method} {path}")

    def _response(self, what: str) -> tuple[int, bytes]:
        """Read one response: status line, headers, then exactly Content-Length bytes."""
        end = self._fill_until(b"\r\n\r\n", what)
        lines = self._buffer[:end].decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        version, _, rest = lines[0].partition(" ")
        try:
            status = int(rest[:3])
        except ValueError:
            raise RuntimeError(f"{what}: bad HTTP status line {lines[0]!r}") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            length = int(headers["content-length"])
        elif status in (204, 304):
            length = 0
        else:
            raise RuntimeError(f"{what}: {status} response without Content-Length: {headers}")
        while len(self._buffer) < length:
            self._recv(what)
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        connection = headers.get("connection", "").lower()
        if connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive"):
            self.close()
        return status, body

    def _fill_until(self, marker: bytes, what: str) -> int:
        """Receive until the buffer holds ``marker``; its position."""
        while (end := self._buffer.find(marker)) < 0:
            self._recv(what)
        return end

    def _recv(self, what: str) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            self.close()
            raise ConnectionError(f"{what}: the server closed the connection mid-response")
        self._buffer += chunk


# -- timed rounds of concurrent clients -----------------------------------------------------
@dataclass
class Round:
    """One timed round against one server."""

    sent: int
    seconds: float
    server_cpu: float
    client_cpu: float

    @property
    def rate(self) -> float:
        return self.sent / self.seconds


# A client: given its index, connects and returns (send the n-th item, close).
Connect = Callable[[int], tuple[Callable[[int], None], Callable[[], None]]]


def timed_round(pid: int, clients: int, connect: Connect, seconds: float, what: str) -> Round:
    """``clients`` threads connect, then send items ``index, index + clients, ...`` until
    ``seconds`` are up, all starting together; server ``pid``'s and our CPU are measured over
    the same span. The first client error is raised, naming ``what``."""
    counts = [0] * clients
    errors: list[str] = []
    ready = threading.Barrier(clients + 1)
    deadline = [time.perf_counter() + 3600]

    def client(index: int) -> None:
        close: Callable[[], None] = lambda: None  # noqa: E731
        try:
            send, close = connect(index)
            ready.wait()
            n = index
            while time.perf_counter() < deadline[0]:
                send(n)
                counts[index] += 1
                n += clients
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            if not ready.broken:
                ready.abort()
        finally:
            close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        raise RuntimeError(f"a client failed to start: {errors[:1]}") from None
    server_cpu, client_cpu = cpu_seconds(pid), own_cpu_seconds()
    start = time.perf_counter()
    deadline[0] = start + seconds
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{what} client failed: {errors[0]}")
    return Round(
        sum(counts),
        elapsed,
        (cpu_seconds(pid) - server_cpu) / elapsed,
        (own_cpu_seconds() - client_cpu) / elapsed,
    )


# -- statistics ------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: list[float]) -> float:
    return percentile(values, 50)


# -- results ---------------------------------------------------------------------------------
@dataclass
class Metric:
    """One reported figure, with its target when it has one."""

    name: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None

    def shown(self) -> str:
        if self.unit == "x":
            return f"{self.value:.2f}"
        if abs(self.value) >= 100 or self.unit in ("msg/s", "req/s", "rows"):
            return f"{self.value:,.0f}"
        return f"{self.value:.1f}"


@dataclass
class Report:
    """What a benchmark prints and hands to ``run_all.py``."""

    benchmark: str
    quick: bool
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load_average: float = field(default_factory=lambda: os.getloadavg()[0])

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        *,
        at_least: float | None = None,
        at_most: float | None = None,
    ) -> Metric:
        target, met = "", None
        if at_least is not None:
            target, met = f">= {at_least:g} {unit}", value >= at_least
        elif at_most is not None:
            target, met = f"<= {at_most:g} {unit}", value <= at_most
        metric = Metric(name, value, unit, target, met)
        self.metrics.append(metric)
        return metric

    def note(self, text: str) -> None:
        self.notes.append(text)

    def table(self) -> str:
        rows = [("metric", "value", "unit", "target", "met")]
        for m in self.metrics:
            verdict = "" if m.met is None else ("yes" if m.met else "NO")
            rows.append((m.name, m.shown(), m.unit, m.target, verdict))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = []
        for index, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
            if index == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def emit(self, json_out: str | None) -> None:
        title = f"{self.benchmark}{' (quick)' if self.quick else ''}"
        print(f"\n== {title} ==")
        print(self.table())
        self.notes.append(
            f"1-min load average {self.load_average:.1f} at start on {os.cpu_count()} CPUs "
            "(other work on the machine skews every figure)"
        )
        for text in self.notes:
            print(f"  note: {text}")
        if json_out:
            Path(json_out).write_text(json.dumps(asdict(self), indent=2))


# -- profiling -------------------------------------------------------------------------------
@contextmanager
def profiled(pid: int, name: str, enabled: bool) -> Iterator[None]:
    """Record ``pid`` with py-spy for the duration of the block; print its hot spots after.

    The raw (collapsed-stack) profile is kept in ``benchmarks/results/<name>.pyspy.txt``.
    """
    py_spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    if not enabled:
        yield
        return
    if not Path(py_spy).exists():
        print("  (--profile: py-spy not found; pip install py-spy)")
        yield
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.pyspy.txt"
    recorder = subprocess.Popen(
        [
            *(py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200"),
            *("--nonblocking", "--subprocesses", "--output", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # let it attach
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            recorder.kill()
        if out.exists():
            print(hot_spots(out))


def hot_spots(path: Path, top: int = 25) -> str:
    """Self and inclusive sample shares of the hottest functions of a py-spy raw profile."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")[1:]  # the first entry is the thread
        total += count
        if frames:
            own[_short(frames[-1])] += count
        for frame in {_short(f) for f in frames}:
            inclusive[frame] += count
    if not total:
        return "  (profile is empty)"
    lines = [f"  py-spy: {total} samples of busy server threads ({path.name})", "  self:"]
    for frame, count in own.most_common(top):
        lines.append(f"    {100 * count / total:5.1f}%  {frame}")
    lines.append("  inclusive (mailbot_sandbox and sqlite):")
    shown = 0
    for frame, count in inclusive.most_common():
        if "mailbot_sandbox" in frame or "sqlite" in frame:
            lines.append(f"    {100 * count / total:5.1f}%  {frame}")
            shown += 1
            if shown >= top:
                break
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``func (path/to/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py:12)``."""
    return re.sub(r"\(/[^()]*?/(?:site-packages|lib/python3\.\d+)/", "(", frame)


# -- mail --------------------------------------------------------------------------------------
def build_mail(sender: str, recipient: str, subject: str, body: str) -> bytes:
    """An RFC 5322 message as a mail client would send it (CRLF line ends)."""
    from email.message import EmailMessage
    from email.policy import SMTP
    from email.utils import formatdate, make_msgid

    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="bench.example")
    message.set_content(body)
    return message.as_bytes(policy=SMTP)


def sized_mails(sender: str, recipient: str, count: int, size: int, seed: int = 1) -> list[bytes]:
    """``count`` distinct messages of about ``size`` bytes each, with Faker subjects and text."""
    import textwrap

    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(seed)
    paragraphs = [textwrap.fill(fake.paragraph(nb_sentences=6), 72) for _ in range(200)]
    mails = []
    for index in range(count):
        subject = fake.sentence(nb_words=7).rstrip(".")
        parts: list[str] = []
        length = 450  # the headers
        step = index
        while length < size:
            paragraph = paragraphs[(step * 7919) % len(paragraphs)]
            parts.append(paragraph)
            length += len(paragraph) + 2
            step += 1
        body = "\n\n".join(parts)
        raw = build_mail(sender, recipient, subject, body)
        mails.append(raw)
    return mails

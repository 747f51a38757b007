"""The supervisor of ``serve``'s worker processes: it binds the ports, starts the workers,
hands each accepted connection to the next one in turn, and stops them all.

A worker ignores Ctrl+C (the terminal sends it to the whole process group) and stops on the
supervisor's SIGTERM, draining its SMTP sessions like a single process does. If the
supervisor dies, the workers see their hand-off channel close and stop too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: one process, no run folder (see worker_count)
    fcntl = None  # type: ignore[assignment]

from prometheus_client.multiprocess import mark_process_dead

from mailbot_sandbox.config import Config
from mailbot_sandbox.errors import SandboxError
from mailbot_sandbox.metrics import MULTIPROCESS_VARIABLE
from mailbot_sandbox.runtime.httpserver import bind
from mailbot_sandbox.runtime.processes.link import (
    HTTP_CONNECTION,
    SMTP_CONNECTION,
    SMTPS_CONNECTION,
)
from mailbot_sandbox.runtime.processes.peers import create_waits_file
from mailbot_sandbox.sandbox import Addresses
from mailbot_sandbox.smtp.tls import TlsFiles, prepare_tls, tls_folder
from mailbot_sandbox.store import Store

log = logging.getLogger("mailbot_sandbox")
START_SECONDS = 60
STOP_SECONDS = 30
RUN_PREFIX = "run-"  # the run folders' names in the database's ``.mailbot-run`` folder
RUN_LOCK = "lock"  # held (flock) by the supervisor for as long as its run folder is in use


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment for a worker, without any ``MAILBOT_*`` setting: the
    configuration (API keys included) travels over the worker's stdin, where no other
    process can read it."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("MAILBOT_")}
    return {**base, **extra}


def run_folders(db: str) -> Path:
    """Where the supervisors of database ``db`` keep their run folders (the workers' shared
    counters): next to the database rather than in the temp folder, so the next start finds
    and removes what a killed supervisor left behind."""
    return Path(db).expanduser().resolve().parent / ".mailbot-run"


def remove_stale_run_folders(parent: Path) -> None:
    """Remove the run folders whose supervisor is gone (its lock is free)."""
    if fcntl is None or not parent.is_dir():
        return
    for folder in parent.glob(f"{RUN_PREFIX}*"):
        try:
            fd = os.open(folder / RUN_LOCK, os.O_RDWR)
        except OSError:  # half-made, or removed meanwhile: nobody holds it
            shutil.rmtree(folder, ignore_errors=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live supervisor's
        finally:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)


def worker_count(config: Config) -> int:
    """How many processes ``serve`` runs for this configuration."""
    if config.db == ":memory:" or not hasattr(socket, "send_fds"):  # also Windows: one
        return 1
    if config.workers:
        return config.workers
    return max(1, min(os.cpu_count() or 1, 4))


class Supervisor(Addresses):
    """Starts and stops the workers; the same ``start``/``stop``/``describe`` as a Sandbox."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.workers = worker_count(config)
        self._listeners: list[socket.socket] = []
        self._handoffs: list[socket.socket] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        self._threads: list[threading.Thread] = []
        self._rundir = ""
        self._run_lock: int | None = None
        self._tls: TlsFiles | None = None
        self._stopping = threading.Event()
        self.failed = threading.Event()  # a worker ended on its own

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> Supervisor:
        """Create the database, bind both ports, start the workers and wait until they serve.

        Raises:
            ConfigError: a port is in use or the database cannot be opened.
            SandboxError: a worker did not start.
        """
        Store(self.config.db, checkpoint=False).close()  # schema first, before any worker
        # The certificate too: made once here, then each worker finds it on disk.
        self._tls = prepare_tls(self.config, tls_folder(self.config))
        http = bind(self.config.host, self.config.port, "HTTP")
        self._listeners.append(http)
        try:
            smtp = bind(self.config.smtp_bind_host, self.config.smtp_port, "SMTP")
            self._listeners.append(smtp)
            smtps = bind(self.config.smtp_bind_host, self.config.smtps_port, "SMTPS")
            self._listeners.append(smtps)
            self._rundir = self._make_run_folder()
            create_waits_file(self._rundir, self.workers + 1)
            os.mkdir(self._metrics_dir)
            self._spawn()
        except BaseException:
            self.stop()
            raise
        for listener, kind in (
            (http, HTTP_CONNECTION),
            (smtp, SMTP_CONNECTION),
            (smtps, SMTPS_CONNECTION),
        ):
            thread = threading.Thread(
                target=self._accept, args=(listener, kind), name="mailbot-accept", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        watcher = threading.Thread(target=self._watch, name="mailbot-workers", daemon=True)
        watcher.start()
        where = self.describe()
        log.info(
            "sandbox started: API %s, SMTP %s, SMTPS %s, data %s, %d workers",
            where["api"],
            where["smtp"],
            where["smtps"],
            where["data"],
            self.workers,
            extra={key: where[key] for key in ("api", "smtp", "smtps", "ca", "data")},
        )
        return self

    def _make_run_folder(self) -> str:
        """A fresh run folder, locked for as long as this supervisor lives; stale ones of
        supervisors that were killed go first."""
        parent = run_folders(self.config.db)
        remove_stale_run_folders(parent)
        parent.mkdir(exist_ok=True)
        folder = parent / f"{RUN_PREFIX}{os.getpid()}-{os.urandom(4).hex()}"
        folder.mkdir(mode=0o700)
        self._run_lock = os.open(folder / RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            fcntl.flock(self._run_lock, fcntl.LOCK_EX)
        return str(folder)

    def _spawn(self) -> None:
        # The workers, then one more process that serves no connections and makes the
        # webhook deliveries (``WorkerLink.delivers``).
        deliverer = self.workers
        count = self.workers + 1
        handoffs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(count)]
        # Worker i reads channels[i][0]; the others write to channels[i][1].
        channels = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(count)]
        config = {
            field.name: getattr(self.config, field.name)
            for field in dataclasses.fields(self.config)
        }
        # Tracked mail points at the port bound here, not at each worker.
        config["public_url"] = self.config.public_url or self.base_url
        try:
            for index in range(count):
                child_handoff = handoffs[index][1]
                receiver = channels[index][0]
                senders = {j: channels[j][1].fileno() for j in range(count) if j != index}
                spec = {
                    "index": index,
                    "config": config,
                    "handoff": child_handoff.fileno(),
                    "receiver": receiver.fileno(),
                    "senders": senders,
                    "rundir": self._rundir,
                    "metrics_dir": self._metrics_dir,
                    "deliverer": deliverer,
                }
                # prometheus_client reads its multiprocess folder when it is imported.
                env = child_environment({MULTIPROCESS_VARIABLE: self._metrics_dir})
                proc = subprocess.Popen(
                    [sys.executable, "-m", "mailbot_sandbox.runtime.processes.worker"],
                    env=env,
                    pass_fds=[child_handoff.fileno(), receiver.fileno(), *senders.values()],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    # A group of its own: Ctrl+C in a terminal reaches the supervisor only,
                    # which stops the workers; one still importing would print a traceback.
                    process_group=0,
                )
                self._procs.append(proc)
                assert proc.stdin is not None
                try:
                    with proc.stdin:  # the spec, API keys included: never on argv or environ
                        proc.stdin.write(json.dumps(spec).encode() + b"\n")
                except BrokenPipeError:  # it ended before reading it (a signal, say)
                    proc.wait(timeout=START_SECONDS)
                    raise SandboxError(
                        f"worker {index} did not start (exit status {proc.returncode})"
                    ) from None
                # Kept for the deliverer too, though it is handed nothing: its end closing
                # is how it learns that the supervisor is gone.
                self._handoffs.append(handoffs[index][0])
            for index, proc in enumerate(self._procs):
                assert proc.stdout is not None
                line = proc.stdout.readline()  # "ready", or nothing when it failed
                if line.strip() != b"ready":
                    proc.wait(timeout=START_SECONDS)
                    raise SandboxError(
                        f"worker {index} did not start (exit status {proc.returncode})"
                    )
        finally:
            for pair in channels:  # the workers hold their own copies now
                for end in pair:
                    end.close()
            for pair in handoffs:
                pair[1].close()

    @property
    def _metrics_dir(self) -> str:
        """Where the workers' counters meet (``prometheus_client``'s multiprocess files)."""
        return os.path.join(self._rundir, "metrics")

    def _accept(self, listener: socket.socket, kind: bytes) -> None:
        turn = 0
        while not self._stopping.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed by stop()
            with connection:
                # Round robin over the workers (not the deliverer, the last one); a worker
                # that cannot take it (gone) passes it to the next.
                for attempt in range(self.workers):
                    handoff = self._handoffs[(turn + attempt) % self.workers]
                    try:
                        socket.send_fds(handoff, [kind], [connection.fileno()])
                    except OSError:
                        continue
                    break
                turn += 1

    def _watch(self) -> None:
        """Notice a worker ending on its own (a crash): the CLI then stops the rest."""
        while not self._stopping.is_set():
            for index, proc in enumerate(self._procs):
                if proc.poll() is not None and not self._stopping.is_set():
                    log.error(
                        "worker %d ended unexpectedly (exit status %s)", index, proc.returncode
                    )
                    # Its parked waits are gone with it: drop them from the live gauges.
                    mark_process_dead(proc.pid, self._metrics_dir)
                    self.failed.set()
                    return
            self._stopping.wait(0.5)

    def stop(self) -> None:
        """Stop accepting, let every worker drain and stop, remove the run folder."""
        if self._stopping.is_set():
            return
        started = bool(self._procs)
        if started:
            log.info("sandbox stopping")
        self._stopping.set()
        for listener in self._listeners:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for thread in self._threads:
            thread.join(timeout=5)
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self._procs:
            try:
                proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("a worker did not stop in %d s; killing it", STOP_SECONDS)
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        for handoff in self._handoffs:
            handoff.close()
        if self._rundir:
            shutil.rmtree(self._rundir, ignore_errors=True)
        if self._run_lock is not None:
            os.close(self._run_lock)
            self._run_lock = None
        if started:
            log.info("sandbox stopped")

    def __enter__(self) -> Supervisor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------
    @property
    def http_port(self) -> int:
        return int(self._listeners[0].getsockname()[1])

    @property
    def smtp_port(self) -> int:
        return int(self._listeners[1].getsockname()[1])

    @property
    def smtps_port(self) -> int:
        return int(self._listeners[2].getsockname()[1])

    @property
    def tls_ca_file(self) -> str | None:
        assert self._tls is not None
        return None if self._tls.ca_file is None else str(self._tls.ca_file)

"""The :class:`Sandbox`: store, HTTP API and SMTP sink in one object you can start and stop."""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from mailbot_sandbox.api.app import create_app
from mailbot_sandbox.api.tls import CA_EXTENSION
from mailbot_sandbox.config import Config, load_config
from mailbot_sandbox.console import register as register_console
from mailbot_sandbox.core.services import Services
from mailbot_sandbox.metrics import Metrics
from mailbot_sandbox.runtime.httpserver import HttpServer
from mailbot_sandbox.runtime.localkey import with_catch_all_key
from mailbot_sandbox.runtime.processes.link import (
    HTTP_CONNECTION,
    SMTP_CONNECTION,
    SMTPS_CONNECTION,
    WorkerLink,
)
from mailbot_sandbox.runtime.retention import Retention
from mailbot_sandbox.runtime.streams import StreamHub
from mailbot_sandbox.runtime.webhooks import WebhookDispatcher
from mailbot_sandbox.smtp.server import SmtpServer
from mailbot_sandbox.smtp.tls import TlsFiles, prepare_tls, tls_folder

log = logging.getLogger("mailbot_sandbox")

# What a Sandbox built in code uses unless told otherwise: OS-chosen ports, a database in memory.
IN_PROCESS_DEFAULTS = {"port": 0, "smtp_port": 0, "smtps_port": 0, "db": ":memory:"}


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


class Addresses:
    """Where a running sandbox answers, from its ``config`` and the two ports it serves."""

    config: Config

    @property
    def http_port(self) -> int:
        raise NotImplementedError

    @property
    def smtp_port(self) -> int:
        raise NotImplementedError

    @property
    def smtps_port(self) -> int:
        """The implicit-TLS (SMTPS) port."""
        raise NotImplementedError

    @property
    def tls_ca_file(self) -> str | None:
        """The sandbox CA's certificate file (PEM) for clients to trust; None when the SMTP
        server presents a certificate the user gave."""
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        """``http://host:port``, the root of ``/health`` and ``/sandbox/v1``."""
        return f"http://{_display_host(self.config.host)}:{self.http_port}"

    @property
    def api_url(self) -> str:
        """The ``base_url`` to give ``MailBot(...)``: ``http://host:port/v1``."""
        return f"{self.base_url}/v1"

    @property
    def smtp_host(self) -> str:
        return _display_host(self.config.smtp_bind_host)

    def describe(self) -> Mapping[str, Any]:
        """Where everything is, as the CLI prints it."""
        return {
            "console": f"{self.base_url}/",
            "api": self.api_url,
            "smtp": f"{self.smtp_host}:{self.smtp_port}",
            "smtps": f"{self.smtp_host}:{self.smtps_port}",
            "ca": self.tls_ca_file or self.config.tls_cert or "",
            "data": self.config.db,
        }


class Sandbox(Addresses):
    """A running sandbox. Use as a context manager, or call :meth:`start` and :meth:`stop`.

    Plain SMTP mail to addresses outside the sandbox is captured in the account of
    ``config.catch_all_key`` (a new key unless one is given, or kept beside the database).

    ``Sandbox()`` alone takes free ports and an in-memory database; pass settings of
    :class:`~mailbot_sandbox.config.Config` as keywords (``port=8025``, ``db="mail.db"``) or a
    whole ``config``. The environment is not read here (the CLI reads it).

    Example::

        with Sandbox() as sandbox:
            print(sandbox.api_url, sandbox.smtp_port)
    """

    def __init__(
        self, config: Config | None = None, *, worker: WorkerLink | None = None, **settings: Any
    ) -> None:
        if config is not None and settings:
            raise TypeError("pass either config or keyword settings, not both")
        config = config or load_config({**IN_PROCESS_DEFAULTS, **settings}, environ={})
        self.config = with_catch_all_key(config)
        self._worker = worker  # set when this is one process of several (runtime.processes)
        self.services: Services | None = None
        self._http: HttpServer | None = None
        self._smtp: SmtpServer | None = None
        self._retention: Retention | None = None
        self._dispatcher: WebhookDispatcher | None = None
        self._streams: StreamHub | None = None
        self._tls: TlsFiles | None = None
        self._tls_scratch: str | None = None  # a temporary TLS folder, removed at stop
        self._state = "stopped"  # starting, running, stopping: what /ready reports

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Open the store and bind both servers.

        Raises:
            ConfigError: a port is in use or the database cannot be opened.
        """
        if self.services is not None:
            raise RuntimeError("sandbox already started")
        self._state = "starting"
        worker = self._worker
        primary = worker is None or worker.primary
        self.services = Services(
            self.config,
            forward=worker.peers.wake_others if worker else None,
            on_wait=worker.peers.count_wait if worker else None,
            primary=primary,
            metrics=Metrics(worker.metrics_dir if worker else None),
        )
        try:
            self._tls = self._prepare_tls()
            app = create_app(self.config, services=self.services)
            register_console(app)
            app.extensions["mailbot.readiness"] = self._readiness
            self._streams = self._stream_hub(self.services)
            app.extensions[CA_EXTENSION] = self._tls.ca_pem()
            # A worker listens nowhere itself: its supervisor accepts and hands connections on.
            self._http = HttpServer(
                app,
                self.config.host,
                None if worker else self.config.port,
                self._streams,
                threads=self.config.http_threads,
                queue=self.config.http_queue,
                metrics=self.services.metrics,
            )
            self._http.start()
            self._smtp = SmtpServer(
                self.services,
                self.config.smtp_bind_host,
                None if worker else self.config.smtp_port,
                tls=self._tls.server_context(),
                smtps_port=None if worker else self.config.smtps_port,
            )
            self._smtp.start()
            if worker is None:  # a worker's supervisor put its own address in the config
                self.services.engagement.public_url = self.config.public_url or self.base_url
            if primary:  # one process of several prunes for all
                self._retention = Retention(
                    self.services.store, self.services.clock, self.config, self.services.metrics
                )
                self._retention.start()
            if worker is None or worker.delivers:  # and one calls webhooks for all
                self._dispatcher = WebhookDispatcher(
                    self.services.store,
                    self.config,
                    self.services.events,
                    self.services.metrics,
                    heard=worker.peers.hooks_heard if worker is not None else None,
                )
                self._dispatcher.start()
            if worker is not None:
                services = self.services

                streams = self._streams

                def on_wake(inbox_ids: list[str]) -> None:  # stored by another process
                    services.notifier.publish(inbox_ids, forward=False)
                    services.search_index.notify()
                    streams.wake()

                dispatcher = self._dispatcher
                worker.start(self._adopt, on_wake, dispatcher.wake if dispatcher else None)
                if not worker.delivers:  # the deliverer makes those this worker queues
                    services.events.on_recorded(worker.wake_deliverer)
        except BaseException:
            self.stop()
            raise
        if worker is not None:
            self._state = "running"
            return self
        where = self.describe()
        log.info(
            "sandbox started: API %s, SMTP %s, SMTPS %s, data %s",
            where["api"],
            where["smtp"],
            where["smtps"],
            where["data"],
            extra={key: where[key] for key in ("api", "smtp", "smtps", "ca", "data")},
        )
        self._state = "running"
        return self

    def _stream_hub(self, services: Services) -> StreamHub:
        """The hub of this process's live streams; each stream counts as a wait, so other
        workers say when they store mail."""
        metrics = services.metrics
        count_wait = self._worker.peers.count_wait if self._worker else None

        def count(delta: int) -> None:
            metrics.streams_open.inc(delta)
            if count_wait is not None:
                count_wait(delta)

        return StreamHub(services.events, self.config.stream_heartbeat, on_count=count)

    def _prepare_tls(self) -> TlsFiles:
        """The certificate SMTP presents; a database in memory keeps its CA in a temporary
        folder (set ``tls_dir`` to keep one across runs)."""
        folder = tls_folder(self.config)
        if folder is None and not (self.config.tls_cert or self.config.tls_key):
            self._tls_scratch = tempfile.mkdtemp(prefix="mailbot-sandbox-tls-")
            folder = Path(self._tls_scratch)
        return prepare_tls(self.config, folder)

    def _adopt(self, kind: bytes, connection: socket.socket) -> None:
        """Serve a connection the supervisor accepted and handed to this worker."""
        if kind == SMTP_CONNECTION and self._smtp is not None:
            self._smtp.adopt(connection)
        elif kind == SMTPS_CONNECTION and self._smtp is not None:
            self._smtp.adopt(connection, implicit_tls=True)
        elif kind == HTTP_CONNECTION and self._http is not None:
            self._http.adopt(connection)
        else:
            connection.close()

    def stop(self) -> None:
        """Stop SMTP first (no new mail), then HTTP, then close the store. Safe to repeat.

        A message whose SMTP transaction was answered 250 is committed already; a session cut
        short by the stop never got its 250, so the client still holds the message and retries.
        """
        was_running = self._state == "running"
        self._state = "stopping"  # /ready answers 503 from here on
        if was_running and self._worker is None:
            log.info("sandbox stopping")
        if self._worker is not None:
            self._worker.stop_handoff()
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        if self.services is not None:
            self.services.shutdown()
        if self._http is not None:
            self._http.stop()
            self._http = None
        if self._streams is not None:
            self._streams.close()
            self._streams = None
        if self._retention is not None:
            self._retention.stop()
            self._retention = None
        if self._dispatcher is not None:
            self._dispatcher.stop()
            self._dispatcher = None
        if self.services is not None:
            self.services.close()
            self.services = None
        if self._worker is not None:
            self._worker.close()
        if self._tls_scratch is not None:
            shutil.rmtree(self._tls_scratch, ignore_errors=True)
            self._tls_scratch = None
        self._tls = None
        self._state = "stopped"
        if was_running and self._worker is None:
            log.info("sandbox stopped")

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------
    def _require_started(self) -> None:
        if self._http is None or self._smtp is None:
            raise RuntimeError("sandbox is not running; call start() first")

    @property
    def http_port(self) -> int:
        self._require_started()
        assert self._http is not None
        return int(self._http.port)

    @property
    def smtp_port(self) -> int:
        self._require_started()
        assert self._smtp is not None and self._smtp.port is not None
        return self._smtp.port

    @property
    def smtps_port(self) -> int:
        self._require_started()
        assert self._smtp is not None and self._smtp.smtps_port is not None
        return self._smtp.smtps_port

    @property
    def tls_ca_file(self) -> str | None:
        self._require_started()
        assert self._tls is not None
        return None if self._tls.ca_file is None else str(self._tls.ca_file)

    def _readiness(self) -> dict[str, str]:
        """What ``/ready`` reports beyond the database: is everything up and not stopping?"""
        smtp = self._smtp is not None and self._smtp.serving
        return {
            "smtp": "ok" if smtp else "not listening",
            "sandbox": "ok" if self._state == "running" else self._state,
        }

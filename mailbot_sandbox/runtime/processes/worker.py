"""The entry point of one worker process of ``serve``: a Sandbox on the sockets its
supervisor passed, until SIGTERM. Run as ``python -m mailbot_sandbox.runtime.processes.worker``
by :class:`~mailbot_sandbox.runtime.processes.supervisor.Supervisor`, never by hand."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading

from mailbot_sandbox.config import load_config
from mailbot_sandbox.errors import ConfigError, SandboxError
from mailbot_sandbox.runtime.logs import configure_logging
from mailbot_sandbox.runtime.processes.link import WorkerLink
from mailbot_sandbox.runtime.processes.peers import Peers
from mailbot_sandbox.sandbox import Sandbox


def worker_main() -> int:
    """Run one worker until SIGTERM; returns the exit status (2: it could not start)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the supervisor's to handle
    # The spec (JSON, one line) comes on stdin: it holds the API keys, which must not be
    # readable by other processes, as a command line or an environment is.
    spec = json.loads(sys.stdin.buffer.readline())
    config = load_config(spec["config"], environ={})
    configure_logging(config.log_level, config.log_format)
    peers = Peers(
        spec["index"],
        socket.socket(fileno=spec["receiver"]),
        {int(j): socket.socket(fileno=fd) for j, fd in spec["senders"].items()},
        spec["rundir"],
    )
    handoff = socket.socket(fileno=spec["handoff"])
    link = WorkerLink(spec["index"], handoff, peers, spec["metrics_dir"], spec["deliverer"])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sandbox = Sandbox(config, worker=link)
    try:
        sandbox.start()
    except (ConfigError, SandboxError) as exc:
        print(f"mailbot-sandbox: error: {exc}", file=sys.stderr)
        return 2
    print("ready", flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nobody reads the pipe from here on
    stop.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())

"""Several sandbox processes serving one database file, behind one pair of ports.

One Python process runs on one core at a time, and a sandbox under load (SMTP ingest, API
sends) is CPU-bound. ``mailbot-sandbox serve`` on a database file therefore starts a
:class:`~mailbot_sandbox.runtime.processes.supervisor.Supervisor`: it binds the HTTP and SMTP
ports itself, starts ``workers`` processes (:mod:`~mailbot_sandbox.runtime.processes.worker`,
each a full :class:`~mailbot_sandbox.sandbox.Sandbox` that listens nowhere), accepts every
connection and hands it to the next worker in turn over a Unix socket (``SCM_RIGHTS``), so the
load is spread evenly however few connections there are.

The rooms here:

- ``supervisor``: binds the ports, starts, watches and stops the workers;
- ``worker``: the entry point of one worker process;
- ``link``: what makes a Sandbox one worker of several (the connection hand-off, upkeep only
  in worker 0);
- ``peers``: what the workers tell each other (wake-ups of long-poll waits, and which of
  them has a wait in progress).

The database is shared through SQLite in WAL mode; write transactions queue on a file lock
(``Store.write``). Upkeep (retention, WAL checkpoints, the background search indexer) runs in
worker 0 only.
"""

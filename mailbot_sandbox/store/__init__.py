"""SQLite storage and the package's only SQL: one connection behind a lock, migrations at
start-up, and one module per table family returning typed rows."""

from mailbot_sandbox.store.db import Store

__all__ = ["Store"]

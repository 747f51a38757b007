"""SQLite storage: one connection behind a lock, migrations at start-up."""

from mailbot_sandbox.store.db import Store

__all__ = ["Store"]

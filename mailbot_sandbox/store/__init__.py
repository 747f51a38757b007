"""SQLite storage and the package's only SQL.

``db`` owns the connection and its transactions (:meth:`Store.write`, savepoints, after-commit
hooks) and ``schema`` the migrations. Every other module holds one table family's statements
as plain functions that take the :class:`Store` (reads, and writes of their own) or the open
connection (steps of a caller's transaction) and return typed rows:

- ``accounts``: accounts and their clock offsets;
- ``inboxes``: inboxes and their per-inbox counts; ``sends``: daily send counts;
- ``messages``: messages, attachments and raw bytes (the one reader of those);
- ``threads``; ``domains``: custom domains and the sandbox's DNS records;
- ``outbox``: captured mail to outside addresses;
- ``search``: the full-text index, and a parsed search rendered into SQL;
- ``audit``: the audit log; ``faults``: faults injected into inboxes by the control plane;
- ``upkeep``: erasing, retention pruning, and whole-store figures.
"""

from mailbot_sandbox.store.db import Store

__all__ = ["Store"]

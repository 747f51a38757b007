"""The domain layer in one place: the store and every service that writes to it.

HTTP views, the SMTP handler and the control plane all hold the same :class:`Services`, so a
rule (a permission, a limit) is checked in exactly one spot.
"""

from __future__ import annotations

from collections.abc import Callable

from mailbot_sandbox.config import Config
from mailbot_sandbox.core.accounts import Account, Accounts
from mailbot_sandbox.core.audit import AuditLog
from mailbot_sandbox.core.clock import Clock
from mailbot_sandbox.core.compliance import Compliance
from mailbot_sandbox.core.delivery import Delivery
from mailbot_sandbox.core.domains import Domains
from mailbot_sandbox.core.engagement import Engagement
from mailbot_sandbox.core.events import Events
from mailbot_sandbox.core.faults import Faults
from mailbot_sandbox.core.inboxes import Inboxes
from mailbot_sandbox.core.messages import Messages
from mailbot_sandbox.core.notify import Notifier
from mailbot_sandbox.core.outbox import Outbox
from mailbot_sandbox.core.overview import Overview
from mailbot_sandbox.core.streams import Streams
from mailbot_sandbox.core.threads import Threads
from mailbot_sandbox.core.webhooks import Webhooks
from mailbot_sandbox.metrics import Metrics
from mailbot_sandbox.search.index import SearchIndex
from mailbot_sandbox.store import Store


class Services:
    """Builds the store and the services for one configuration.

    One process of several on a database file (see :mod:`mailbot_sandbox.runtime.processes`)
    passes the notifier's hooks to the others: ``forward`` gets the inbox ids of every
    wake-up published here, ``on_wait`` +1/-1 as a wait starts and ends (see
    :class:`~mailbot_sandbox.core.notify.Notifier`). Only the ``primary`` process runs the
    background upkeep (WAL checkpoints, the search indexer), which the others would only
    duplicate. ``metrics`` is where this sandbox counts (a fresh one unless given).
    """

    def __init__(
        self,
        config: Config,
        *,
        forward: Callable[[list[str]], None] | None = None,
        on_wait: Callable[[int], None] | None = None,
        primary: bool = True,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.store = Store(config.db, checkpoint=primary)
        self.clock = Clock(self.store)
        # With configured keys only those are accepted: the local account's key is one more.
        local_key = config.catch_all_key
        keys = config.api_keys + ((local_key,) if local_key and config.api_keys else ())
        self.accounts = Accounts(self.store, keys)
        self.events = Events(self.store, self.clock)
        self.domains = Domains(self.store, self.clock, config, self.events)
        self.inboxes = Inboxes(self.store, self.clock, self.domains, config, self.events)
        self.audit = AuditLog(self.store)
        self.compliance = Compliance(self.store, self.clock, config, self.domains, self.inboxes)
        self.notifier = Notifier(
            forward=forward, on_wait=on_wait, on_block=self.metrics.count_parked
        )
        self.threads = Threads(self.store)
        self.search_index = SearchIndex(self.store, background=primary)
        self.messages = Messages(
            self.store,
            self.clock,
            self.inboxes,
            self.threads,
            self.notifier,
            self.search_index,
            self.events,
        )
        self.outbox = Outbox(self.store)
        self.overview = Overview(self.store, self.clock)
        self.webhooks = Webhooks(self.store, self.clock, self.inboxes, self.events)
        self.engagement = Engagement(self.store, self.clock, config, self.events, self.inboxes)
        self.streams = Streams(self.inboxes, self.events)
        self.faults = Faults(self.store, self.clock, self.inboxes)
        self.delivery = Delivery(
            self.store,
            self.clock,
            config,
            self.inboxes,
            self.messages,
            self.metrics,
            self.engagement,
            self.faults,
            local_account=self._local_account if local_key else None,
        )

    def _local_account(self) -> Account:
        """The account of the catch-all key (made on first use, as any key's)."""
        assert self.config.catch_all_key is not None
        return self.accounts.for_key(self.config.catch_all_key)

    def shutdown(self) -> None:
        """Release anything waiting on the services (long-polls) before the servers stop."""
        self.notifier.close()

    def close(self) -> None:
        self.search_index.close()
        self.store.close()

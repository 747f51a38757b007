"""Counters and gauges for ``/metrics``, through ``prometheus_client``.

Each sandbox counts in its own :class:`Metrics` (its own registry), so two sandboxes in one
process, as a test suite starts them, never see each other's numbers. Label values are
bounded: a label per inbox would grow without end in a suite that creates thousands of
inboxes, and per-inbox numbers are what the API itself answers.

``mailbot-sandbox serve`` with several worker processes runs ``prometheus_client`` in its
multiprocess mode: the supervisor gives every worker the same fresh folder in
``PROMETHEUS_MULTIPROC_DIR`` (read when ``prometheus_client`` is imported), each worker's
counters live in memory-mapped files there, and a scrape of any worker sums them all. The
folder is removed when the sandbox stops, so a run starts at zero, as Prometheus' ``rate()``
expects of counters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from mailbot_sandbox import __version__

# The classic text format (what generate_latest writes for these plain metric names).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "mailbot_"
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """One sandbox's counters and its parked-waits gauge.

    :param multiprocess_dir: the folder the worker processes of one ``serve`` share (see the
        module docs); a scrape then sums every worker. None for a single process.
    """

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        registry = self.registry
        self.messages_received = Counter(
            f"{PREFIX}messages_received",
            "Messages stored in an inbox as received (SMTP, internal delivery, injection, import)",
            registry=registry,
        )
        self.messages_sent = Counter(
            f"{PREFIX}messages_sent",
            "Messages sent from an inbox (API or SMTP submission)",
            registry=registry,
        )
        self.smtp_sessions = Counter(
            f"{PREFIX}smtp_sessions", "SMTP connections accepted", registry=registry
        )
        self.webhook_deliveries = Counter(
            f"{PREFIX}webhook_deliveries",
            "Webhook delivery attempts, by outcome",
            ("outcome",),
            registry=registry,
        )
        self.wait_calls = Counter(
            f"{PREFIX}wait_calls", "Long-poll wait calls answered or timed out", registry=registry
        )
        self.retention_pruned_messages = Counter(
            f"{PREFIX}retention_pruned_messages",
            "Messages removed by the retention policy",
            registry=registry,
        )
        # livesum: the sum over the worker processes alive now (a killed worker's waits are
        # gone with it).
        self.waits_parked = Gauge(
            f"{PREFIX}waits_parked",
            "Long-poll waits parked right now, waiting for mail to wake them",
            registry=registry,
            multiprocess_mode="livesum",
        )

        self.streams_open = Gauge(
            f"{PREFIX}streams_open",
            "Live event streams (Server-Sent Events) connected right now",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.http_requests_queued = Gauge(
            f"{PREFIX}http_requests_queued",
            "HTTP requests waiting for a free request thread right now",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.http_requests_refused = Counter(
            f"{PREFIX}http_requests_refused",
            "HTTP requests answered 503 server_busy: every thread busy and the queue full",
            registry=registry,
        )

    def count_parked(self, delta: int) -> None:
        """Move the parked-waits gauge: +1 as a wait parks, -1 as it wakes."""
        self.waits_parked.inc(delta)

    def render(self, gauges: Mapping[str, tuple[str, float]] | None = None) -> bytes:
        """The text exposition of every counter (of every worker, in multiprocess mode), the
        ``mailbot_info`` version gauge and ``gauges`` (name -> (help, value)) measured now."""
        return generate_latest(_Scrape(self, gauges or {}))


class _Scrape:
    """What one scrape reports: the counters and the gauges measured at scrape time."""

    def __init__(self, metrics: Metrics, gauges: Mapping[str, tuple[str, float]]) -> None:
        self._metrics = metrics
        self._gauges = gauges

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            f"{PREFIX}info", "Version of this mailbot-sandbox", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info
        if self._metrics.multiprocess_dir is not None:
            yield from MultiProcessCollector(None, path=self._metrics.multiprocess_dir).collect()
        else:
            for metric in self._metrics.registry.collect():
                # The multiprocess mode has no creation times; one process shows none either,
                # so a scrape reads the same however the sandbox runs.
                metric.samples = [s for s in metric.samples if not s.name.endswith("_created")]
                yield metric
        for name, (help_text, value) in self._gauges.items():
            yield GaugeMetricFamily(f"{PREFIX}{name}", help_text, value=value)

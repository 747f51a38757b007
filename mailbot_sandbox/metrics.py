"""Counters for ``/metrics``, in the Prometheus text exposition format (version 0.0.4).

The code that does the work counts with one call, ``metrics.count("smtp_sessions")``; the
scrape renders every counter. Counters live in memory and are per process, like the default
registry of ``prometheus_client``: a process normally runs one sandbox, and a restart starts
them again at zero, which Prometheus' ``rate()`` expects of counters. Labelled series are
capped per counter so that a test suite creating thousands of inboxes cannot grow them
without bound; series past the cap are summed under ``inbox_id="_other"``.

No dependency is needed for this: the format is a few lines of text.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mailbot_sandbox import __version__

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "mailbot_"
MAX_SERIES = 10_000
OVERFLOW = "_other"


@dataclass(frozen=True)
class Counter:
    """One counter family: its help text and the names of its labels, in order."""

    help: str
    labels: tuple[str, ...] = ()


COUNTERS: dict[str, Counter] = {
    "messages_received": Counter(
        "Messages stored in an inbox as received (SMTP, internal delivery, injection, import)",
        ("inbox_id",),
    ),
    "messages_sent": Counter("Messages sent from an inbox (API or SMTP submission)", ("inbox_id",)),
    "smtp_sessions": Counter("SMTP connections accepted"),
    "webhook_deliveries": Counter("Webhook delivery attempts, by outcome", ("outcome",)),
    "wait_calls": Counter("Long-poll wait calls answered or timed out"),
    "retention_pruned_messages": Counter("Messages removed by the retention policy"),
}

_Key = tuple[str, ...]


class Registry:
    """Thread-safe counters; :data:`REGISTRY` is the one the sandbox uses."""

    def __init__(self, counters: Mapping[str, Counter] = COUNTERS) -> None:
        self._counters = dict(counters)
        self._values: dict[str, dict[_Key, float]] = {name: {} for name in self._counters}
        self._lock = threading.Lock()

    def count(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` to the series of ``name`` with these label values.

        Raises:
            KeyError: ``name`` is not a known counter, or the labels are not its labels
                (a programming error, caught by the tests rather than hidden).
        """
        counter = self._counters[name]
        if set(labels) != set(counter.labels):
            raise KeyError(f"counter {name} takes labels {counter.labels}, got {tuple(labels)}")
        key = tuple(str(labels[label]) for label in counter.labels)
        with self._lock:
            series = self._values[name]
            if key not in series and len(series) >= MAX_SERIES:
                key = tuple(OVERFLOW for _ in key)
            series[key] = series.get(key, 0) + amount

    def count_each(self, name: str, label_values: Iterable[str]) -> None:
        """Count one for each value of the counter's single label (one inbox per message)."""
        (label,) = self._counters[name].labels
        for value in label_values:
            self.count(name, 1, **{label: value})

    def value(self, name: str, **labels: str) -> float:
        """The current value of one series (0 when it was never counted)."""
        counter = self._counters[name]
        key = tuple(str(labels[label]) for label in counter.labels)
        with self._lock:
            return self._values[name].get(key, 0)

    def snapshot(self) -> dict[str, list[list[Any]]]:
        """Every series as JSON-ready lists: ``{name: [[label values..., value], ...]}``."""
        with self._lock:
            return {
                name: [[*key, value] for key, value in series.items()]
                for name, series in self._values.items()
            }

    def render(
        self,
        gauges: Mapping[str, tuple[str, float]] | None = None,
        others: Iterable[Mapping[str, list[list[Any]]]] = (),
    ) -> str:
        """Every counter, plus ``gauges`` (name -> (help, value)) measured at scrape time.

        ``others`` are :meth:`snapshot` s of the sandbox's other processes, added in."""
        lines = [
            f"# HELP {PREFIX}info Version of this mailbot-sandbox",
            f"# TYPE {PREFIX}info gauge",
            f'{PREFIX}info{{version="{_escape(__version__)}"}} 1',
        ]
        with self._lock:
            snapshot = {name: dict(series) for name, series in self._values.items()}
        for other in others:
            for name, rows in other.items():
                if name not in snapshot:
                    continue
                series = snapshot[name]
                for row in rows:
                    labels = tuple(str(part) for part in row[:-1])
                    series[labels] = series.get(labels, 0) + row[-1]
        for name, counter in self._counters.items():
            full = f"{PREFIX}{name}_total"
            lines.append(f"# HELP {full} {counter.help}")
            lines.append(f"# TYPE {full} counter")
            series = snapshot[name]
            if not counter.labels:
                lines.append(f"{full} {_number(series.get((), 0))}")
            for key, value in sorted(series.items()):
                if counter.labels:
                    pairs = ",".join(
                        f'{label}="{_escape(part)}"'
                        for label, part in zip(counter.labels, key, strict=True)
                    )
                    lines.append(f"{full}{{{pairs}}} {_number(value)}")
        for name, (help_text, value) in (gauges or {}).items():
            full = f"{PREFIX}{name}"
            lines += [f"# HELP {full} {help_text}", f"# TYPE {full} gauge"]
            lines.append(f"{full} {_number(value)}")
        return "\n".join(lines) + "\n"

    def clear(self) -> None:
        """Forget every value (for tests of the registry itself)."""
        with self._lock:
            for series in self._values.values():
                series.clear()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


REGISTRY = Registry()


def count(name: str, amount: float = 1, **labels: str) -> None:
    """Count on the process registry: ``metrics.count("smtp_sessions")``."""
    REGISTRY.count(name, amount, **labels)


def count_each(name: str, label_values: Iterable[str]) -> None:
    """``metrics.count_each("messages_received", inbox_ids)``: one per inbox id given."""
    REGISTRY.count_each(name, label_values)

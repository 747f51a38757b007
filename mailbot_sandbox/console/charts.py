"""The overview's small send-volume charts, worked out in Python so that the template only
writes SVG rectangles (a hundred cards render in a few milliseconds)."""

from __future__ import annotations

import math
from dataclasses import dataclass

BAR_WIDTH = 8
BAR_STEP = 10
CHART_HEIGHT = 30


@dataclass(frozen=True)
class Bar:
    """One day's bar: where it stands, how tall it is, and what it says on hover."""

    x: int
    y: int
    height: int
    label: str


@dataclass(frozen=True)
class Chart:
    """A card's chart: its bars, its width and what a screen reader hears."""

    bars: list[Bar]
    width: int
    total: int
    days: int


def send_chart(daily: list[tuple[str, int]]) -> Chart:
    """Bars for ``(day, sends)`` pairs, oldest first, scaled to the busiest day."""
    top = max((sends for _, sends in daily), default=0)
    bars = []
    for index, (day, sends) in enumerate(daily):
        height = math.ceil(CHART_HEIGHT * sends / top) if top else 0
        bars.append(Bar(index * BAR_STEP, CHART_HEIGHT + 2 - height, height, f"{day}: {sends}"))
    return Chart(bars, len(daily) * BAR_STEP, sum(sends for _, sends in daily), len(daily))

"""Chart geometry for the dashboard: plain coordinates that one autoescaped SVG template draws.

Why not a chart library: pygal, the one made for server-side SVG, inlines a `<script>` even with
`js=[]` and styles through a `<style>` element, which the strict CSP (no inline scripts or styles)
blocks. These few shapes — stacked bars, lines, horizontal bars — are simpler to lay out here, with
colours as SVG presentation attributes (`fill=`, `stroke=`), which the CSP does not govern.
The palette is Okabe and Ito's, told apart with every common colour-vision deficiency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from digest.operate.stats import DailySeries

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
# Fixed colours where the meaning is fixed, so "failed" is the same hue in every chart.
COLOURS = {
    "sent": "#0072B2", "deferred": "#E69F00", "failed": "#D55E00",
    "confirmed": "#009E73", "pending": "#E69F00", "suspended": "#D55E00",
    "unsubscribed": "#6B7280",
    "hard": "#D55E00", "soft": "#E69F00", "complaint": "#CC79A7",  # bounces (SPEC §12)
}
# Each chart is drawn twice: WIDE for a desktop's half-page card, NARROW for a phone, so that
# text keeps about the same size on screen (an SVG scales its text along with its shapes).
WIDE, NARROW = 480, 320
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 12, 26  # room for the axis labels
Y_DIVISIONS = 4


@dataclass(frozen=True)
class Rect:
    """A bar or a bar's segment; `title` is its tooltip."""

    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass(frozen=True)
class Line:
    """One series drawn as a polyline (`points` in SVG syntax)."""

    points: str
    stroke: str
    title: str


@dataclass(frozen=True)
class Label:
    """A piece of text at a point; anchor is start, middle or end."""

    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Chart:
    """Everything the SVG template needs: size, grid, shapes, text and legend."""

    width: int
    height: int
    grid: list[float] = field(default_factory=list)  # y of each horizontal grid line
    rects: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (name, colour)
    empty: bool = False

    @property
    def view_box(self) -> str:
        """The SVG viewBox: the chart scales to its container's width."""
        return f"0 0 {self.width} {self.height}"


def colour(name: str, position: int) -> str:
    """The colour of a series: fixed for known names, else the palette in order."""
    return COLOURS.get(name, PALETTE[position % len(PALETTE)])


def nice_maximum(value: float) -> int:
    """The smallest round top of the y axis (1, 2 or 5 times a power of ten per step) >= value."""
    if value <= Y_DIVISIONS:
        return Y_DIVISIONS
    raw_step = value / Y_DIVISIONS
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    return int(step * Y_DIVISIONS)


def _y_axis(top_value: int) -> tuple[list[float], list[Label]]:
    """Grid lines and their labels for an axis from 0 to top_value."""
    grid, labels = [], []
    plot_height = HEIGHT - TOP - BOTTOM
    for i in range(Y_DIVISIONS + 1):
        value = top_value * i // Y_DIVISIONS
        y = round(HEIGHT - BOTTOM - plot_height * i / Y_DIVISIONS, 1)
        grid.append(y)
        labels.append(Label(LEFT - 6, y + 4, f"{value:,}", "end"))
    return grid, labels


def _slot(width: int, days: Sequence[date]) -> float:
    """The horizontal room of one day."""
    return (width - LEFT - RIGHT) / max(len(days), 1)


def _day_labels(days: Sequence[date], slot: float) -> list[Label]:
    """A date under every 7th day, counted back from the last so that today is labelled."""
    last = len(days) - 1
    return [
        Label(round(LEFT + slot * (i + 0.5), 1), HEIGHT - 8, f"{day:%b} {day.day}")
        for i, day in enumerate(days) if (last - i) % 7 == 0
    ]


def stacked_bars(data: DailySeries, width: int = WIDE) -> Chart:
    """One bar per day, its series stacked in order."""
    totals = [sum(column) for column in zip(*data.series.values(), strict=True)] or [0]
    top_value = nice_maximum(max(totals))
    grid, labels = _y_axis(top_value)
    slot = _slot(width, data.days)
    scale = (HEIGHT - TOP - BOTTOM) / top_value
    rects = []
    for i, day in enumerate(data.days):
        base = float(HEIGHT - BOTTOM)
        for position, (name, values) in enumerate(data.series.items()):
            if not values[i]:
                continue
            height = values[i] * scale
            base -= height
            rects.append(Rect(
                x=round(LEFT + slot * i + slot * 0.15, 1), y=round(base, 1),
                width=round(slot * 0.7, 1), height=round(height, 1),
                fill=colour(name, position), title=f"{day.isoformat()}: {values[i]:,} {name}",
            ))
    legend = [(name, colour(name, p)) for p, name in enumerate(data.series)]
    return Chart(width, HEIGHT, grid, rects, [], labels + _day_labels(data.days, slot), legend,
                 empty=not any(totals))


def lines(data: DailySeries, width: int = WIDE) -> Chart:
    """One line per series across the days."""
    peak = max((max(values, default=0) for values in data.series.values()), default=0)
    top_value = nice_maximum(peak)
    grid, labels = _y_axis(top_value)
    slot = _slot(width, data.days)
    scale = (HEIGHT - TOP - BOTTOM) / top_value
    drawn = []
    for position, (name, values) in enumerate(data.series.items()):
        points = " ".join(
            f"{LEFT + slot * (i + 0.5):.1f},{HEIGHT - BOTTOM - value * scale:.1f}"
            for i, value in enumerate(values)
        )
        latest = values[-1] if values else 0
        drawn.append(Line(points, colour(name, position), f"{name}: {latest:,} today"))
    legend = [(name, colour(name, p)) for p, name in enumerate(data.series)]
    return Chart(width, HEIGHT, grid, [], drawn, labels + _day_labels(data.days, slot), legend,
                 empty=peak == 0)


def horizontal_bars(items: Sequence[tuple[str, int]], width: int = WIDE) -> Chart:
    """One bar per (name, count), largest first as given; names at the left, counts at the end."""
    row, gap = 20, 6
    label_width = 170 if width >= WIDE else 124
    longest = 26 if width >= WIDE else 18
    height = max(len(items), 1) * (row + gap) + gap
    peak = max((count for _, count in items), default=0) or 1
    room = width - label_width - 50  # the count is written after the bar
    rects, labels = [], []
    for i, (name, count) in enumerate(items):
        y = gap + i * (row + gap)
        length = max(room * count / peak, 1)
        shown = name if len(name) <= longest else name[: longest - 1] + "…"
        rects.append(Rect(label_width, y, round(length, 1), row, PALETTE[0], f"{name}: {count:,}"))
        labels.append(Label(label_width - 8, y + row - 6, shown, "end"))
        labels.append(Label(round(label_width + length + 6, 1), y + row - 6, f"{count:,}", "start"))
    return Chart(width, height, [], rects, [], labels, [], empty=not items)

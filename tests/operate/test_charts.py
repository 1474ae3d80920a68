"""Chart geometry: axes that end on round numbers, bars that stack to their totals, both widths."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from digest.operate import charts
from digest.operate.stats import DailySeries

DAYS = [date(2026, 4, 1) + timedelta(days=i) for i in range(30)]


@pytest.mark.parametrize("value,top", [(0, 4), (3, 4), (5, 8), (17, 20), (101, 200), (2400, 4000),
                                       (1963, 2000), (399, 400)])
def test_the_y_axis_ends_on_a_round_number_at_or_above_the_peak(value, top):
    assert charts.nice_maximum(value) == top


@pytest.mark.parametrize("width", [charts.WIDE, charts.NARROW])
def test_stacked_bars_reach_the_height_of_each_days_total(width):
    sent = [10 * i for i in range(30)]
    failed = [i % 3 for i in range(30)]
    chart = charts.stacked_bars(DailySeries(DAYS, {"sent": sent, "failed": failed}), width)
    assert chart.view_box == f"0 0 {width} {charts.HEIGHT}"
    top = charts.nice_maximum(max(s + f for s, f in zip(sent, failed, strict=True)))
    plot = charts.HEIGHT - charts.TOP - charts.BOTTOM
    for day in (5, 29):
        bars = [r for r in chart.rects if r.title.startswith(DAYS[day].isoformat())]
        assert sum(r.height for r in bars) == pytest.approx((sent[day] + failed[day]) * plot / top,
                                                            abs=0.2)
        assert all(r.x >= charts.LEFT and r.x + r.width <= width - charts.RIGHT for r in bars)
    assert {r.fill for r in chart.rects} == {charts.COLOURS["sent"], charts.COLOURS["failed"]}
    assert [label.text for label in chart.labels if label.anchor == "middle"][-1] == "Apr 30"
    assert not chart.empty


def test_lines_have_a_point_per_day_and_an_empty_chart_says_so():
    data = DailySeries(DAYS, {"confirmed": [0] * 30, "pending": [0] * 30})
    chart = charts.lines(data)
    assert chart.empty and len(chart.lines) == 2
    assert all(len(line.points.split()) == 30 for line in chart.lines)


def test_horizontal_bars_scale_to_the_largest_and_shorten_long_names():
    items = [("reinforcement learning from human feedback", 40), ("robot*", 20)]
    wide, narrow = charts.horizontal_bars(items), charts.horizontal_bars(items, charts.NARROW)
    assert wide.rects[0].width == pytest.approx(2 * wide.rects[1].width)
    assert all(r.x + r.width <= charts.WIDE for r in wide.rects)
    assert all(r.x + r.width <= charts.NARROW for r in narrow.rects)
    names = [label.text for label in narrow.labels if label.anchor == "end"]
    assert names[0].endswith("…") and len(names[0]) == 18 and names[1] == "robot*"
    assert wide.rects[0].title == "reinforcement learning from human feedback: 40"

"""The chart's task panel title and its time axis: one tick format whatever the runs' spacing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure

from airflow_provider_contacts.reporting.chart import render_chart

TICK = re.compile(r"\d{4}-\d{2}-\d{2}\n\d{2}:\d{2}:\d{2}")
# Year end: the ticks cross a year, a month and a day.
T0 = datetime(2026, 12, 31, 23, 59, 30, tzinfo=timezone.utc)


def _rows(step: timedelta, count: int = 4) -> list[dict[str, Any]]:
    return [
        {
            "computed_at": T0 + i * step,
            "contacts_total": 10 + i,
            "contacts_new": i,
            "contacts_updated": 2 * i,
            "tasks_open": 3,
            "tasks_overdue": 1,
            "tasks_completed": i,
            "top_tags": {"vip": 2},
        }
        for i in range(count)
    ]


def _drawn(rows: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Figure:
    """Draw the chart for real and return the figure that was written."""
    figures: list[Figure] = []
    save = Figure.savefig

    def keep(self: Figure, *args: Any, **kwargs: Any) -> None:
        figures.append(self)
        save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    path = render_chart(rows, tmp_path / "chart.png")
    assert path.stat().st_size > 0
    return figures[0]


def test_the_task_panel_is_about_the_whole_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figure = _drawn(_rows(timedelta(hours=1)), tmp_path, monkeypatch)
    titles = [ax.get_title(loc="left") for ax in figure.axes]
    assert "Tasks in the location" in titles
    assert not any("scanned" in title for title in titles)


@pytest.mark.parametrize(
    "step", [timedelta(seconds=7), timedelta(minutes=3), timedelta(hours=5), timedelta(days=2)], ids=str
)
def test_every_time_tick_has_one_format(
    step: timedelta, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs seconds apart (the demo) gave ``HH:MM`` ticks beside bare seconds; days apart, dates only."""
    figure = _drawn(_rows(step), tmp_path, monkeypatch)
    tasks_ax = next(ax for ax in figure.axes if ax.get_xlabel() == "computed at (UTC)")
    labels = [tick.get_text() for tick in tasks_ax.get_xticklabels() if tick.get_text()]
    assert len(labels) >= 2
    assert [label for label in labels if not TICK.fullmatch(label)] == []

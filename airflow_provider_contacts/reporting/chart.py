"""
The dashboard chart: contacts and tasks over time, from ``contacts_metrics`` rows, as a PNG.

Drawn on a bare ``matplotlib.figure.Figure`` (Agg canvas, no ``pyplot``): no display, no global backend state,
safe in a worker process. Text that comes from data (tag names, which a location admin chooses) or from the
caller (the title) is drawn as plain text: ``parse_math=False`` and ``usetex=False``, so ``$...$`` is not
mathtext (a tag ``promo $\\foo$ deal`` would stop the chart) and no LaTeX ever reads it, whatever the
deployment's ``matplotlibrc`` says.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.extras import require
from airflow_provider_contacts.reporting.metrics import top_tags_of

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TASK_SERIES = (("tasks_open", "open"), ("tasks_overdue", "overdue"), ("tasks_completed", "completed"))
TAGS_TITLE = "Top tags (latest run)"
#: Text properties of every string the chart did not write itself.
PLAIN_TEXT = {"parse_math": False, "usetex": False}


#: Every tick of the time axis in one format, whatever the span of the runs (seconds apart in the demo, days
#: apart on a schedule).
TIME_FORMAT = "%Y-%m-%d\n%H:%M:%S"


def _time_axis(ax: Any, times: Sequence[datetime]) -> None:
    from matplotlib.dates import AutoDateLocator, DateFormatter

    ax.xaxis.set_major_locator(AutoDateLocator())
    ax.xaxis.set_major_formatter(DateFormatter(TIME_FORMAT))
    if min(times) == max(times):  # one run: a window around it, not years of empty axis
        ax.set_xlim(min(times) - timedelta(minutes=30), max(times) + timedelta(minutes=30))


def draw_chart(rows: Sequence[Mapping[str, Any]], title: str = "Contacts") -> Figure:
    """
    Draw the metrics over time (total contacts; new and updated; tasks) and the latest top tags.

    :param rows: ``contacts_metrics`` rows, oldest first (``computed_at`` and the figures).
    :param title: the figure's title.
    :raises ValueError: there are no rows to draw.
    :raises ContactsMissingExtraError: matplotlib is not installed (the ``reporting`` extra).
    """
    if not rows:
        raise ValueError("No metrics rows to draw")
    require("matplotlib", extra="reporting", feature="The dashboard chart")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    times = [row["computed_at"] for row in rows]
    figure = Figure(figsize=(12, 8), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(3, 2, width_ratios=(2.2, 1))
    total_ax = figure.add_subplot(grid[0, 0])
    change_ax = figure.add_subplot(grid[1, 0], sharex=total_ax)
    tasks_ax = figure.add_subplot(grid[2, 0], sharex=total_ax)
    tags_ax = figure.add_subplot(grid[:, 1])

    panels = (
        (total_ax, (("contacts_total", "total"),), "Contacts"),
        (
            change_ax,
            (("contacts_new", "new"), ("contacts_updated", "updated")),
            "Changed in each run's interval",
        ),
        (tasks_ax, TASK_SERIES, "Tasks in the location"),
    )
    for ax, series, heading in panels:
        for column, label in series:
            values = [row.get(column) or 0 for row in rows]
            ax.plot(times, values, marker="o", label=label)
            ax.annotate(str(values[-1]), (times[-1], values[-1]), textcoords="offset points", xytext=(6, 4))
        ax.set_title(heading, loc="left")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best")
        ax.set_ylim(bottom=0)
    _time_axis(tasks_ax, times)
    for ax in (total_ax, change_ax):
        ax.tick_params(labelbottom=False)
    tasks_ax.set_xlabel("computed at (UTC)")

    tags = top_tags_of(rows[-1])
    names = list(tags)[::-1]
    # Numeric positions and fixed labels: a categorical axis would format the names itself, as mathtext.
    positions = list(range(len(names)))
    tags_ax.barh(positions, [tags[name] for name in names], color="tab:purple")
    tags_ax.set_yticks(positions, labels=[str(name) for name in names], **PLAIN_TEXT)
    tags_ax.set_title(TAGS_TITLE, loc="left")
    tags_ax.set_xlabel("contacts")
    figure.suptitle(title, **PLAIN_TEXT)
    return figure


def render_chart(
    rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], title: str = "Contacts"
) -> Path:
    """
    Draw the chart (:func:`draw_chart`) and write it as a PNG.

    :param rows: ``contacts_metrics`` rows, oldest first (``computed_at`` and the figures).
    :param path: the PNG to write; its directory is created if missing.
    :param title: the figure's title.
    :raises ValueError: there are no rows to draw.
    """
    figure = draw_chart(rows, title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path

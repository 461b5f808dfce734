"""
The dashboard chart: contacts and tasks over time, from ``contacts_metrics`` rows, as a PNG.

Drawn on a bare ``matplotlib.figure.Figure`` (Agg canvas, no ``pyplot``): no display, no global backend state,
safe in a worker process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from airflow_provider_contacts.reporting.metrics import top_tags_of

CONTACT_SERIES = (("contacts_total", "total"), ("contacts_new", "new"), ("contacts_updated", "updated"))
TASK_SERIES = (("tasks_open", "open"), ("tasks_overdue", "overdue"), ("tasks_completed", "completed"))


def render_chart(
    rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], title: str = "Contacts"
) -> Path:
    """
    Draw the metrics over time (contacts, tasks) and the latest top tags; write a PNG.

    :param rows: ``contacts_metrics`` rows, oldest first (``computed_at`` and the figures).
    :param path: the PNG to write; its directory is created if missing.
    :param title: the figure's title.
    :raises ValueError: there are no rows to draw.
    """
    if not rows:
        raise ValueError("No metrics rows to draw")
    times = [row["computed_at"] for row in rows]
    figure = Figure(figsize=(11, 7.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2, 2, width_ratios=(2.2, 1))
    contacts_ax = figure.add_subplot(grid[0, 0])
    tasks_ax = figure.add_subplot(grid[1, 0], sharex=contacts_ax)
    tags_ax = figure.add_subplot(grid[:, 1])

    for ax, series, heading in (
        (contacts_ax, CONTACT_SERIES, "Contacts"),
        (tasks_ax, TASK_SERIES, "Tasks (scanned contacts)"),
    ):
        for column, label in series:
            ax.plot(times, [row.get(column) or 0 for row in rows], marker="o", label=label)
        ax.set_title(heading)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left")
    tasks_ax.set_xlabel("computed at (UTC)")
    figure.autofmt_xdate()

    tags = top_tags_of(rows[-1])
    names = list(tags)[::-1]
    tags_ax.barh(names, [tags[name] for name in names], color="tab:purple")
    tags_ax.set_title("Top tags (latest run)")
    tags_ax.set_xlabel("contacts")
    figure.suptitle(title)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path

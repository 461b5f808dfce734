"""
The dashboard page: a static HTML file with the latest figures, the change since the previous run, the
top tags and the chart. Every value is HTML-escaped; the page needs no server and no script.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from airflow_provider_contacts.reporting.metrics import top_tags_of

FIGURES = (
    ("contacts_total", "Contacts"),
    ("contacts_new", "New in interval"),
    ("contacts_updated", "Updated in interval"),
    ("tasks_total", "Tasks"),
    ("tasks_open", "Open tasks"),
    ("tasks_overdue", "Overdue tasks"),
    ("tasks_completed", "Completed tasks"),
)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def _delta(latest: Mapping[str, Any], previous: Mapping[str, Any] | None, column: str) -> str:
    if previous is None or latest.get(column) is None or previous.get(column) is None:
        return ""
    change = int(latest[column]) - int(previous[column])
    return f"{change:+d}" if change else "="


def render_page(
    rows: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    chart_file: str | None = None,
    title: str = "Contacts dashboard",
) -> Path:
    """
    Write the dashboard page for the latest of ``rows``.

    :param rows: ``contacts_metrics`` rows, oldest first; the last one is shown.
    :param path: the HTML file to write; its directory is created if missing.
    :param chart_file: the chart's path relative to the page (usually its file name); no chart when None.
    :param title: the page title.
    :raises ValueError: there are no rows to show.
    """
    if not rows:
        raise ValueError("No metrics rows to show")
    latest = rows[-1]
    previous = rows[-2] if len(rows) > 1 else None
    figures = "\n".join(
        f"<tr><th>{escape(label)}</th><td>{escape(_text(latest.get(column)))}</td>"
        f"<td class='delta'>{escape(_delta(latest, previous, column))}</td></tr>"
        for column, label in FIGURES
    )
    tags = top_tags_of(latest)
    tag_rows = "\n".join(
        f"<tr><th>{escape(str(tag))}</th><td>{escape(str(count))}</td></tr>" for tag, count in tags.items()
    )
    facts = (
        ("Location", latest.get("location_id")),
        ("Interval", f"{_text(latest.get('interval_start'))} to {_text(latest.get('interval_end'))}"),
        ("Computed at", latest.get("computed_at")),
        ("Last sync finished", latest.get("last_sync_at")),
        ("Tasks counted over", f"{_text(latest.get('task_contacts_scanned'))} contacts"),
        ("Tags counted over", f"{_text(latest.get('tag_contacts_scanned'))} contacts"),
        ("API requests for this run", latest.get("api_requests")),
        ("Runs recorded", len(rows)),
    )
    fact_rows = "\n".join(
        f"<tr><th>{escape(label)}</th><td>{escape(_text(value))}</td></tr>" for label, value in facts
    )
    chart = f'<img src="{escape(chart_file)}" alt="metrics over time">' if chart_file else ""
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0 2em 1em 0; display: inline-table; vertical-align: top; }}
th, td {{ padding: .25em .8em; border-bottom: 1px solid #ddd; text-align: left; }}
td {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.delta {{ color: #666; }}
img {{ max-width: 100%; display: block; margin-top: 1em; }}
</style></head>
<body>
<h1>{escape(title)}</h1>
<table><caption>Latest figures (change since previous run)</caption>
{figures}
</table>
<table><caption>Top tags</caption>
{tag_rows}
</table>
<table><caption>Run</caption>
{fact_rows}
</table>
{chart}
</body></html>
"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path

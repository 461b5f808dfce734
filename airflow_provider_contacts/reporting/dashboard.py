"""The dashboard: the chart and the page, side by side in one directory."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow_provider_contacts.reporting.chart import render_chart
from airflow_provider_contacts.reporting.page import render_page

CHART_FILE = "dashboard.png"
PAGE_FILE = "index.html"


def build_dashboard(
    rows: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike[str], title: str = "Contacts dashboard"
) -> dict[str, str]:
    """
    Render ``dashboard.png`` and ``index.html`` from the metrics rows; return their paths.

    :param rows: ``contacts_metrics`` rows, oldest first.
    :param out_dir: the directory to write to (created if missing).
    :param title: the title of the chart and the page.
    """
    out = Path(out_dir)
    chart = render_chart(rows, out / CHART_FILE, title=title)
    page = render_page(rows, out / PAGE_FILE, chart_file=CHART_FILE, title=title)
    return {"chart": str(chart), "page": str(page)}

"""
contacts_dashboard: metrics of the Contacts location after every sync, kept in SQL, sent as gauges, drawn.

Shows: a DAG scheduled on an asset (``contacts_synced``, updated by ``contacts_sync``); computing metrics
through ``ContactsHook`` at a bounded API cost (counts from the search ``total``, tags from one search pass,
exact task counts from the location task search, see ``airflow_provider_contacts.reporting.metrics``);
appending them to the ``contacts_metrics`` table through any Airflow SQL connection (SQLite by default,
PostgreSQL in production); emitting Airflow ``Stats`` gauges; rendering a PNG chart and a static HTML page.

Each run reports on the interval since the previous run's ``interval_end`` (the first run: the last day),
so runs triggered by syncs, by hand or by a backfill never count a change twice. Configuration: connection ids
and paths from the environment (``dag_support/settings.py``), run options as params. Nothing is looked up at parse time.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task
from dag_support.settings import (
    CONTACTS_CONN_ID,
    CONTACTS_METRICS,
    CONTACTS_SYNCED,
    REPORTING_CONN_ID,
    dashboard_dir,
    reporting_hook,
)

from airflow_provider_contacts.reporting.metrics import DEFAULT_TASK_CONTACT_LIMIT, ContactMetrics


@dag(
    dag_id="contacts_dashboard",
    schedule=[CONTACTS_SYNCED],
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["contacts", "reporting"],
    params={
        "dashboard_dir": Param(None, type=["null", "string"], description="default: $CONTACTS_DASHBOARD_DIR"),
        "task_contact_limit": Param(DEFAULT_TASK_CONTACT_LIMIT, type="integer", minimum=0),
        "history": Param(500, type="integer", minimum=1, description="metrics rows drawn on the chart"),
    },
    doc_md=__doc__,
)
def contacts_dashboard() -> None:
    @task
    def compute_metrics(params: dict[str, Any]) -> dict[str, Any]:
        """Compute the figures since the previous run; they go to XCom as JSON."""
        from airflow_provider_contacts.hooks.contacts import ContactsHook
        from airflow_provider_contacts.reporting import metrics
        from airflow_provider_contacts.reporting.tables import AUDIT_TABLE, METRICS_TABLE, read_rows

        sql = reporting_hook(REPORTING_CONN_ID)
        previous = read_rows(sql, METRICS_TABLE, limit=1)
        last_sync = read_rows(sql, AUDIT_TABLE, limit=1)
        start, end = metrics.default_interval(
            previous[0]["interval_end"] if previous else None, datetime.now(timezone.utc)
        )
        result = metrics.compute_metrics(
            ContactsHook(contacts_conn_id=CONTACTS_CONN_ID),
            start,
            end,
            last_sync_at=last_sync[0]["finished_at"] if last_sync else None,
            task_contact_limit=params["task_contact_limit"],
        )
        return result.to_json()

    @task(outlets=[CONTACTS_METRICS])  # schedules contacts_alerts
    def store_metrics(figures: dict[str, Any]) -> None:
        """Append the run's row to ``contacts_metrics`` (the table is created when missing)."""
        from airflow_provider_contacts.reporting.tables import METRICS_TABLE, append_row

        context = get_current_context()
        row = ContactMetrics.from_json(figures).as_row(context["dag"].dag_id, context["run_id"])
        append_row(reporting_hook(REPORTING_CONN_ID), METRICS_TABLE, row)

    @task
    def emit_gauges(figures: dict[str, Any]) -> dict[str, float]:
        """Send the figures as ``Stats`` gauges (StatsD / OpenTelemetry per ``[metrics]``)."""
        from airflow_provider_contacts.reporting.gauges import emit_gauges as emit

        return emit(ContactMetrics.from_json(figures))

    @task
    def render_dashboard(params: dict[str, Any]) -> dict[str, str]:
        """Draw the chart and write the page from the stored rows."""
        from airflow_provider_contacts.reporting.dashboard import build_dashboard
        from airflow_provider_contacts.reporting.tables import METRICS_TABLE, read_rows

        rows = read_rows(reporting_hook(REPORTING_CONN_ID), METRICS_TABLE, limit=params["history"])
        out = Path(params["dashboard_dir"]) if params["dashboard_dir"] else dashboard_dir()
        return build_dashboard(rows, out)

    figures = compute_metrics()
    stored = store_metrics(figures)
    emit_gauges(figures)
    stored >> render_dashboard()


contacts_dashboard()

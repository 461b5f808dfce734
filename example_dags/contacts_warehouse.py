"""
contacts_warehouse: HighLevel contacts, tasks, notes and appointments in the reporting database, every 15 minutes.

Shows ``ContactsToSqlOperator``: each run reads the contacts changed in its data interval (one search per 500
contacts; a quiet interval costs one request), their tasks through the location task search, their notes and
appointments, and merges them by id into ``crm_contacts``, ``crm_contacts_tasks``, ``crm_contacts_notes`` and
``crm_contacts_appointments`` of the reporting connection (any SQL connection: SQLite by default, PostgreSQL or
MySQL/MariaDB in production). Tables are created when missing; unchanged rows are not rewritten, so a rerun or
an overlapping backfill changes nothing. The first run of each day (UTC) also sweeps the location's ids and
marks the contacts deleted in HighLevel (``_deleted``).

A manual run has no data interval: give it the ``since`` param (ISO-8601) to load everything changed since then
(the first load: an early date). ``sweep_deleted`` forces the sweep. Lineage (inputs ``highlevel://<location>``,
outputs the tables) goes to OpenLineage when its provider is installed and configured.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import CronDataIntervalTimetable, Param, dag
from dag_support.settings import CONTACTS_CONN_ID, REPORTING_CONN_ID, demo_dir

from airflow_provider_contacts.transfers import ContactsToSqlOperator

TABLE = "crm_contacts"


@dag(
    dag_id="contacts_warehouse",
    schedule=CronDataIntervalTimetable("*/15 * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["contacts", "warehouse"],
    params={
        "since": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="load what changed since this time (ISO-8601) instead of the data interval",
        ),
        "sweep_deleted": Param(False, type="boolean", description="also mark contacts deleted in HighLevel"),
    },
    doc_md=__doc__,
)
def contacts_warehouse() -> None:
    ContactsToSqlOperator(
        task_id="load_warehouse",
        contacts_conn_id=CONTACTS_CONN_ID,
        sql_conn_id=REPORTING_CONN_ID,
        default_sqlite_path=str(demo_dir() / "reporting.db"),
        table=TABLE,
        since="{{ params.since or '' }}",
        sweep_deleted=(
            "{{ params.sweep_deleted or (data_interval_end is defined and data_interval_end is not none"
            " and data_interval_end.strftime('%H:%M') == '00:00') }}"
        ),
        lookback_seconds=300,  # the search is eventually consistent: overlap the previous interval
        include=["tasks", "notes", "appointments"],
        custom_fields="columns",
    )


contacts_warehouse()

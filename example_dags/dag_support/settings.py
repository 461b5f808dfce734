"""
Settings shared by the example DAGs (not a DAG): connection ids, local paths and the sync's asset.

Every value comes from an environment variable with a default, read when the DAG file is parsed; nothing
here looks up a connection or a Variable or touches the network. Copy this file along with the DAGs.

- ``CONTACTS_CONN_ID``: the Contacts API connection (default ``contacts_default``).
- ``CONTACTS_LOCATION_ID``: the location whose webhooks start ``contacts_events`` (default the sandbox's).
- ``CONTACTS_AGENCY_CONN_ID``: an agency connection (``auth_type`` ``agency``) for ``contacts_agency_sync``
  (default ``contacts_agency``).
- ``CONTACTS_REPORTING_CONN_ID``: the reporting database, any SQL connection (default ``contacts_reporting``;
  when it is not defined, a SQLite file ``reporting.db`` in the demo directory).
- ``CONTACTS_SOURCE_CONN_ID``: the source system's database (default ``contacts_source``; when undefined,
  ``phone_system.db`` in the demo directory).
- ``CONTACTS_DEMO_DIR``: local files: SQLite fallbacks and the dashboard (default ``./.demo``).
- ``CONTACTS_DASHBOARD_DIR``: where the dashboard is written (default ``<demo dir>/dashboard``).
- ``CONTACTS_WATCH_POLL_INTERVAL``: seconds between the asset watcher's polls for new contacts (default 60).
- ``CONTACTS_ALERT_EMAIL``, ``CONTACTS_ALERT_FROM``, ``CONTACTS_SMTP_CONN_ID``: where ``contacts_alerts``
  sends its messages, from which address, through which SMTP connection (default ``smtp_default``).

Run-level options (dry run, limits, output directory) are DAG params, settable from the trigger form.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook
from airflow.sdk import Asset

from airflow_provider_contacts.hooks.sql import DEFAULT_REPORTING_CONN_ID, get_sql_hook

CONTACTS_CONN_ID = os.environ.get("CONTACTS_CONN_ID", "contacts_default")
AGENCY_CONN_ID = os.environ.get("CONTACTS_AGENCY_CONN_ID", "contacts_agency")
REPORTING_CONN_ID = os.environ.get("CONTACTS_REPORTING_CONN_ID", DEFAULT_REPORTING_CONN_ID)
SOURCE_CONN_ID = os.environ.get("CONTACTS_SOURCE_CONN_ID", "contacts_source")
WATCH_POLL_INTERVAL = float(os.environ.get("CONTACTS_WATCH_POLL_INTERVAL") or 60)
LOCATION_ID = os.environ.get("CONTACTS_LOCATION_ID", "sbxLoc0000000000000A")

#: Updated by every successful ``contacts_sync`` run; ``contacts_dashboard`` is scheduled on it.
CONTACTS_SYNCED = Asset(name="contacts_synced", group="contacts")
#: Updated when ``contacts_dashboard`` stored a metrics row; ``contacts_alerts`` is scheduled on it.
CONTACTS_METRICS = Asset(name="contacts_metrics", group="contacts")

ALERT_EMAIL = os.environ.get("CONTACTS_ALERT_EMAIL", "crm-team@example.com")
ALERT_FROM = os.environ.get("CONTACTS_ALERT_FROM", "airflow@example.com")
SMTP_CONN_ID = os.environ.get("CONTACTS_SMTP_CONN_ID", "smtp_default")


def demo_dir() -> Path:
    """The directory of local files: ``$CONTACTS_DEMO_DIR``, else ``./.demo`` (resolved when called)."""
    return Path(os.environ.get("CONTACTS_DEMO_DIR") or ".demo").resolve()


def dashboard_dir() -> Path:
    """Where the dashboard goes: ``$CONTACTS_DASHBOARD_DIR``, else ``<demo dir>/dashboard``."""
    configured = os.environ.get("CONTACTS_DASHBOARD_DIR")
    return Path(configured).resolve() if configured else demo_dir() / "dashboard"


def reporting_hook(conn_id: str = REPORTING_CONN_ID) -> DbApiHook:
    """
    The reporting database's hook (call it in a task, never at parse time).

    :param conn_id: an Airflow SQL connection; when undefined, ``reporting.db`` in :func:`demo_dir`.
    """
    return get_sql_hook(conn_id, default_sqlite_path=demo_dir() / "reporting.db")


def sync_window(context: Any, audit_table: Any = None) -> tuple[datetime, datetime]:
    """
    The window ``[start, end)`` a sync run works on; every task of the run (and every retry) gets the same.

    A scheduled run syncs its data interval. A run triggered by hand has none in Airflow 3: it syncs up to
    the moment it was triggered, from the ``since`` param, else from where the last successful sync stopped
    (the audit table's newest ``success`` row; with a ``location_id`` column, the location that is furthest
    behind, so that no location misses a change), else from a day before
    (``airflow_provider_contacts.windows.run_window``). Call it in a task, never at parse time.

    :param context: the task's context.
    :param audit_table: the audit table's spec (default: ``contacts_sync``'s).
    """
    from airflow_provider_contacts.reporting.tables import AUDIT_TABLE, read_rows
    from airflow_provider_contacts.windows import run_window

    def previous_end() -> datetime | None:
        """Read only for a run with no data interval and no ``since``: a scheduled run needs no audit."""
        rows = read_rows(reporting_hook(REPORTING_CONN_ID), audit_table or AUDIT_TABLE, limit=500)
        newest: dict[Any, datetime] = {}
        for row in rows:
            if row["status"] == "success" and row["run_id"] != context["run_id"]:
                where = row.get("location_id")
                newest[where] = max(newest.get(where, row["interval_end"]), row["interval_end"])
        return min(newest.values(), default=None)

    window = run_window(context, since=context["params"].get("since"), previous_end=previous_end)
    assert window.end is not None  # a catching-up window always ends
    return window.start, window.end

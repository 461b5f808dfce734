"""
The last runs of the syncs and loads, per connection and location.

Two sources: the reports the sync and transfer operators return (their XCom ``return_value`` in the metadata
database, which names the connection and location through :meth:`ContactsHook.report_origin`), and, when a reporting
connection is configured (``[contacts] ops_audit_conn_id``), the sync audit tables the example DAGs write
(``contacts_sync_audit``, ``contacts_agency_sync_audit``: one row per run, whose ``details`` carry the push
report). Both are read, never written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: The operators whose reports are read: a sync writes contacts, a load copies them out.
SYNC_OPERATORS = ("SyncContactsOperator",)
LOAD_OPERATORS = ("ContactsToSqlOperator", "ContactsToObjectStorageOperator")
#: How many of the newest reports are scanned.
SCAN_LIMIT = 500


def _time(value: Any) -> str | None:
    from airflow_provider_contacts.coercion import to_datetime

    try:
        parsed = to_datetime(value, "time") if value is not None else None
    except ValueError:
        return None
    return parsed.isoformat(timespec="seconds") if isinstance(parsed, datetime) else None


def from_reports(session: Session) -> list[dict[str, Any]]:
    """
    The newest sync and load reports from XCom, newest first, one entry per task run.

    :param session: a metadata database session.
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import and_, select

    query = (
        select(
            XComModel.value,
            XComModel.dag_id,
            XComModel.run_id,
            XComModel.task_id,
            XComModel.map_index,
            TaskInstance.state,
            TaskInstance.end_date,
            TaskInstance.operator,
        )
        .join(
            TaskInstance,
            and_(
                TaskInstance.dag_id == XComModel.dag_id,
                TaskInstance.run_id == XComModel.run_id,
                TaskInstance.task_id == XComModel.task_id,
                TaskInstance.map_index == XComModel.map_index,
            ),
        )
        .where(
            XComModel.key == "return_value",
            TaskInstance.operator.in_(SYNC_OPERATORS + LOAD_OPERATORS),
        )
        .order_by(XComModel.timestamp.desc())
        .limit(SCAN_LIMIT)
    )
    runs = []
    for row in session.execute(query):
        report = XComModel.deserialize_value(row)
        if isinstance(report, str):
            try:
                report = json.loads(report)
            except ValueError:
                continue
        if not isinstance(report, dict):
            continue
        sync = row.operator in SYNC_OPERATORS
        body = report.get("summary") if sync else report
        if not isinstance(body, dict) or not body.get("conn_id"):
            continue  # a report from before reports named their connection
        if sync:
            records = int(body.get("total") or 0)
            failures = int(body.get("failed") or 0)
        else:
            records = sum(int(v or 0) for v in (body.get("extracted") or {}).values())
            failures = int(body.get("bad_record_count") or 0)
        runs.append(
            {
                "conn_id": body["conn_id"],
                "location_id": body.get("location_id"),
                "kind": "sync" if sync else "load",
                "source": "report",
                "dag_id": row.dag_id,
                "task_id": row.task_id if row.map_index < 0 else f"{row.task_id}[{row.map_index}]",
                "run_id": row.run_id,
                "finished_at": _time(row.end_date),
                "state": str(row.state) if row.state is not None else None,
                "records": records,
                "failures": failures,
                "dry_run": bool(body.get("dry_run")),
            }
        )
    return runs


def from_audit(conn_id: str | None) -> list[dict[str, Any]]:
    """
    The newest rows of the sync audit tables of a reporting connection, newest first; [] without one.

    :param conn_id: the reporting database's Airflow connection, or None.
    """
    if not conn_id:
        return []
    from airflow.models.connection import Connection

    from airflow_provider_contacts.reporting.tables import AGENCY_AUDIT_TABLE, AUDIT_TABLE, read_rows

    # The server's own connection lookup (the Task SDK's is for tasks).
    hook = Connection.get_connection_from_secrets(conn_id).get_hook()
    runs: list[dict[str, Any]] = []
    for spec in (AUDIT_TABLE, AGENCY_AUDIT_TABLE):
        try:
            rows = read_rows(hook, spec, limit=SCAN_LIMIT, create=False)
        except Exception as error:  # no such table yet: no audited run
            log.debug("no audit rows from %s.%s: %s", conn_id, spec.name, type(error).__name__)
            continue
        for row in rows:
            runs.extend(_audit_run(spec.name, row))
    return sorted(runs, key=lambda run: run["finished_at"] or "", reverse=True)


def _audit_run(table: str, row: dict[str, Any]) -> Iterable[dict[str, Any]]:
    try:
        details = json.loads(row.get("details") or "{}")
    except (TypeError, ValueError):
        details = {}
    push = details.get("push") if isinstance(details, dict) else None
    if not isinstance(push, dict) or not push.get("conn_id"):
        return []
    return [
        {
            "conn_id": push["conn_id"],
            "location_id": row.get("location_id") or push.get("location_id"),
            "kind": "sync",
            "source": f"audit {table}",
            "dag_id": row.get("dag_id"),
            "task_id": None,
            "run_id": row.get("run_id"),
            "finished_at": _time(row.get("finished_at")),
            "state": row.get("status"),
            "records": int(row.get("records_in") or 0),
            "failures": int(row.get("failed") or 0),
            "dry_run": row.get("status") == "dry_run",
        }
    ]


def last_runs(runs: Iterable[dict[str, Any]], conn_id: str) -> list[dict[str, Any]]:
    """
    The newest run of each sync or load of a connection, per location and source.

    :param runs: runs newest first (:func:`from_reports`, :func:`from_audit`).
    :param conn_id: the connection.
    """
    newest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for run in runs:
        if run["conn_id"] != conn_id:
            continue
        key = (
            run["location_id"],
            run["kind"],
            run["source"],
            run["dag_id"],
            (run["task_id"] or "").split("[")[0],
        )
        newest.setdefault(key, run)
    return sorted(newest.values(), key=lambda run: (str(run["location_id"]), run["kind"], str(run["dag_id"])))

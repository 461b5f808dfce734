"""
contacts_agency_sync: one agency app, every sub-account it is installed on, in one DAG, every hour.

Shows:

- an **agency connection** (``auth_type`` ``agency``, extra ``company_id``): one company OAuth chain, and a
  location token minted on demand for each sub-account and kept until shortly before it expires;
- ``InstalledLocationsOperator`` listing the locations where the app is installed, and a **task group mapped
  over them** (dynamic task mapping): each location syncs, computes its dashboard metrics and writes its audit
  row on its own, with its own token and its own rate budget (the API counts per app and location), so the
  locations run side by side at full speed and one failing location does not stop the others;
- **push**: the phone system's contacts changed in the run's data interval go to every location through
  ``SyncContactsOperator`` with ``location_id`` (an agency pushing its shared directory, e.g. its partners,
  into each client's sub-account; swap the extraction for a per-client source of your own);
- **metrics**: the dashboard figures of each location in ``contacts_metrics`` (its ``location_id`` column);
- **audit**: one row per run and location in ``contacts_agency_sync_audit``, written even when a step of that
  location failed.

Nothing is looked up at parse time; connection ids come from ``dag_support/settings.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import (
    CronDataIntervalTimetable,
    Param,
    TriggerRule,
    dag,
    get_current_context,
    task,
    task_group,
)
from dag_support.settings import AGENCY_CONN_ID, REPORTING_CONN_ID, SOURCE_CONN_ID, sync_window

from airflow_provider_contacts.operators import SyncContactsOperator
from airflow_provider_contacts.operators.agency import InstalledLocationsOperator

#: phone-system column -> contact field.
FIELD_MAPPING = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phone",
    "company": "companyName",
}
SYNC_TAGS = ["agency-directory"]
PUSH_TASK_ID = "per_location.push"
METRICS_TASK_ID = "per_location.metrics"


def agency_window(context: Any) -> tuple[datetime, datetime]:
    """
    The run's window (``dag_support.settings.sync_window`` on this DAG's audit table): the data interval, or
    for a manual run from ``since`` or from where the location furthest behind last synced.

    :param context: the task's context.
    """
    from airflow_provider_contacts.reporting.tables import AGENCY_AUDIT_TABLE

    return sync_window(context, AGENCY_AUDIT_TABLE)


@dag(
    dag_id="contacts_agency_sync",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["contacts", "sync", "agency"],
    params={
        "dry_run": Param(False, type="boolean", description="report what would change, write nothing"),
        "since": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="catch up: sync from this time (ISO-8601) instead of the data interval's start",
        ),
    },
    doc_md=__doc__,
)
def contacts_agency_sync() -> None:
    @task
    def extract_changes() -> list[dict[str, Any]]:
        """The phone system's rows changed in the run's window, as sync records (the same for every location)."""
        from dag_support import phone_system

        start, end = agency_window(get_current_context())
        rows = phone_system.changed_contacts(phone_system.source_hook(SOURCE_CONN_ID), start, end)
        return [{name: row[name] for name in ("source_id", *phone_system.CONTACT_FIELDS)} for row in rows]

    changes = extract_changes()
    # [START howto_operator_installed_locations]
    locations = InstalledLocationsOperator(task_id="installed_locations", contacts_conn_id=AGENCY_CONN_ID)

    @task_group
    def per_location(location_id: str) -> None:
        push = SyncContactsOperator(
            task_id="push",
            contacts_conn_id=AGENCY_CONN_ID,
            location_id=location_id,
            records=changes,
            field_mapping=FIELD_MAPPING,
            tags=SYNC_TAGS,
            dry_run="{{ params.dry_run }}",
            max_failed_ratio=0.1,
        )
        # [END howto_operator_installed_locations]

        @task
        def metrics(location_id: str) -> dict[str, Any]:
            """The location's dashboard figures, appended to ``contacts_metrics``."""
            from dag_support.settings import reporting_hook

            from airflow_provider_contacts.hooks.contacts import ContactsHook
            from airflow_provider_contacts.reporting.metrics import compute_metrics
            from airflow_provider_contacts.reporting.tables import METRICS_TABLE, append_row

            context = get_current_context()
            start, end = agency_window(context)
            figures = compute_metrics(ContactsHook(AGENCY_CONN_ID, location_id=location_id), start, end)
            append_row(
                reporting_hook(REPORTING_CONN_ID),
                METRICS_TABLE,
                figures.as_row(context["dag"].dag_id, context["run_id"]),
            )
            return figures.to_json()

        @task(trigger_rule=TriggerRule.ALL_DONE)
        def audit(location_id: str) -> dict[str, Any]:
            """One row for this run and location, whatever happened; fail this location if a step failed."""
            import json

            from airflow.sdk.exceptions import AirflowFailException
            from dag_support.settings import reporting_hook

            from airflow_provider_contacts.reporting.tables import AGENCY_AUDIT_TABLE, append_row

            context = get_current_context()
            ti, run_id = context["ti"], context["run_id"]
            states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[run_id]).get(run_id, {})
            mine = {
                task_id: states.get(f"{task_id}_{ti.map_index}", states.get(task_id))
                for task_id in (PUSH_TASK_ID, METRICS_TASK_ID)
            }
            broken = sorted(task_id for task_id, state in mine.items() if state != "success")
            summary = (ti.xcom_pull(task_ids=PUSH_TASK_ID, map_indexes=ti.map_index) or {}).get("summary", {})
            start, end = agency_window(context)
            finished = datetime.now(timezone.utc)
            row = {
                "dag_id": ti.dag_id,
                "run_id": run_id,
                "location_id": location_id,
                "interval_start": start,
                "interval_end": end,
                "started_at": context["dag_run"].start_date or finished,
                "finished_at": finished,
                "duration_s": round(
                    (finished - (context["dag_run"].start_date or finished)).total_seconds(), 3
                ),
                "records_in": summary.get("total", 0),
                "created": summary.get("created", 0),
                "updated": summary.get("updated", 0),
                "failed": summary.get("failed", 0) + len(broken),
                "converted": 0,
                "tasks_created": summary.get("tasks_created", 0),
                "pulled_back": 0,
                "status": "failed" if broken else "dry_run" if summary.get("dry_run") else "success",
                "details": json.dumps({"failed_tasks": broken, "states": mine, "push": summary}, default=str),
            }
            append_row(reporting_hook(REPORTING_CONN_ID), AGENCY_AUDIT_TABLE, row)
            if broken:
                raise AirflowFailException(
                    f"location {location_id}: {', '.join(broken)} failed (audit row written)"
                )
            return {k: v for k, v in row.items() if k != "details"}

        figures = metrics(location_id)
        push >> figures >> audit(location_id)

    per_location.expand(location_id=locations.output)


contacts_agency_sync()

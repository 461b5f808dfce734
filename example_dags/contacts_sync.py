"""
contacts_sync: incremental two-way sync between a phone system and HighLevel Contacts, every 15 minutes.

Shows:

- **push**: the phone system's contacts changed in the run's window go to the Contacts API through
  ``SyncContactsOperator`` (declarative field mapping, a custom field, a lifecycle tag per record, a
  follow-up task for every contact the sync creates; upserts, so a retried run makes no duplicates);
- **business associations** (touchSMS "bulk create/update; apply tags and business associations"): the
  pushed contacts are grouped by their phone-system ``company``; each company is the location's business of
  that name (created when missing, ``dag_support.location_directory.business_ids``) and its contacts are associated in
  one ``POST /contacts/bulk/business`` (``UpdateContactsBusinessOperator``, mapped over the companies);
- **lead conversion**: a phone-system lead that became a customer in the interval gets the ``customer``
  tag, loses ``lead`` and gets a welcome-call task, through the single-action operators mapped over the
  converted contacts (dynamic task mapping);
- **pull**: contacts changed on the Contacts side in the same interval flow back into the phone system
  (only real differences are written, so the sync's own writes do not bounce back);
- **audit**: one row per run (counts, failures, duration) in ``contacts_sync_audit`` through any SQL
  connection, written even when a step failed; a successful run updates the ``contacts_synced`` asset,
  which schedules ``contacts_dashboard``.

The phone system is a stand-in (``dag_support/phone_system.py``: three SQL tables); swap its functions for your own.
The schedule is a ``CronDataIntervalTimetable``, so each run has a real 15-minute data interval (a plain
cron string in Airflow 3 gives zero-length intervals). Connection ids and paths come from the environment
(``dag_support/settings.py``); the ``dry_run`` param reports what would change and writes nothing. Nothing is
looked up at parse time. A run triggered by hand (no data interval in Airflow 3) syncs from where the last
successful sync stopped up to the moment it was triggered; the ``since`` param sets another start.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, TriggerRule, dag, get_current_context, task
from dag_support.settings import (
    CONTACTS_CONN_ID,
    CONTACTS_SYNCED,
    REPORTING_CONN_ID,
    SOURCE_CONN_ID,
    sync_window,
)

from airflow_provider_contacts.operators import (
    AddContactTagsOperator,
    CreateContactTaskOperator,
    RemoveContactTagsOperator,
    SyncContactsOperator,
    UpdateContactsBusinessOperator,
)

# [START howto_sync_field_mapping]
#: phone-system column -> contact field (``customFields.<key>`` for a custom field, ``tags`` adds tags).
FIELD_MAPPING = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phone",
    "company": "companyName",
    "customer_since": "customFields.customer_since",
    "lifecycle": "tags",
}
#: Tags every synced contact gets, besides its lifecycle tag.
SYNC_TAGS = ["phone-system"]
#: The follow-up task of every contact the sync creates.
NEW_CONTACT_TASK = {"title": "Call back {firstName}: new from the phone system", "due_in_days": 1}
# [END howto_sync_field_mapping]
WELCOME_TASK_TITLE = "Welcome call: new customer"
PUSH_TASK_ID = "push_to_contacts"
#: Contacts per bulk business request.
BULK_BUSINESS_BATCH = 500


@dag(
    dag_id="contacts_sync",
    schedule=CronDataIntervalTimetable("*/15 * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["contacts", "sync"],
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
def contacts_sync() -> None:
    @task(multiple_outputs=True)
    def extract_changes() -> dict:
        """The phone system's rows changed in the run's window, as sync records, and the conversions."""
        from dag_support import phone_system

        start, end = sync_window(get_current_context())
        rows = phone_system.changed_contacts(phone_system.source_hook(SOURCE_CONN_ID), start, end)
        records, converted = [], []
        for row in rows:
            customer = row["stage"] == "customer"
            records.append(
                {
                    "source_id": row["source_id"],
                    **{name: row[name] for name in phone_system.CONTACT_FIELDS},
                    "customer_since": row["converted_at"].date().isoformat() if row["converted_at"] else None,
                    "lifecycle": row["stage"],  # the contact's lifecycle tag (None: no tag)
                }
            )
            converted_at = row["converted_at"]
            if customer and converted_at and start <= converted_at < end:
                converted.append(row["source_id"])
        return {
            "records": records,
            "converted": converted,
            "started_at": datetime.now(timezone.utc).isoformat(),
        }

    changes = extract_changes()

    # [START howto_operator_sync_contacts]
    push = SyncContactsOperator(
        task_id=PUSH_TASK_ID,
        contacts_conn_id=CONTACTS_CONN_ID,
        records=changes["records"],
        field_mapping=FIELD_MAPPING,
        tags=SYNC_TAGS,
        task_template=NEW_CONTACT_TASK,
        dry_run="{{ params.dry_run }}",
        max_failed_ratio=0.1,  # a few bad phone-system rows are reported, not fatal
    )
    # [END howto_operator_sync_contacts]

    @task
    def write_back_ids(report: dict, records: list, converted: list) -> list[str]:
        """Store each pushed row's contact id in the phone system; return the converted contacts' ids."""
        import logging

        from dag_support import phone_system

        if report["summary"]["dry_run"]:
            return []
        pairs = {
            records[entry["index"]]["source_id"]: entry["contact_id"]
            for entry in report["records"]
            if entry.get("contact_id") and entry["status"] != "failed"
        }
        written = phone_system.record_contact_ids(
            phone_system.source_hook(SOURCE_CONN_ID), pairs.items(), datetime.now(timezone.utc)
        )
        logging.getLogger(__name__).info("wrote %d contact ids back to the phone system", written)
        return [pairs[source_id] for source_id in converted if source_id in pairs]

    converted_ids = write_back_ids(push.output, changes["records"], changes["converted"])

    @task
    def group_by_business(report: dict, records: list) -> list[dict[str, Any]]:
        """The pushed contacts of each company, with the company's business id (made when missing)."""
        from dag_support.location_directory import business_ids

        from airflow_provider_contacts.hooks.contacts import ContactsHook

        if report["summary"]["dry_run"]:
            return []
        members: dict[str, list[str]] = {}
        for entry in report["records"]:
            company = (records[entry["index"]].get("company") or "").strip()
            if company and entry.get("contact_id") and entry["status"] != "failed":
                members.setdefault(company, []).append(entry["contact_id"])
        ids = business_ids(ContactsHook(contacts_conn_id=CONTACTS_CONN_ID), members)
        return [
            {"contact_ids": contacts[i : i + BULK_BUSINESS_BATCH], "business_id": ids[company]}
            for company, contacts in sorted(members.items())
            for i in range(0, len(contacts), BULK_BUSINESS_BATCH)
        ]

    # [START howto_operator_business]
    business = UpdateContactsBusinessOperator.partial(
        task_id="set_business", contacts_conn_id=CONTACTS_CONN_ID
    ).expand_kwargs(group_by_business(push.output, changes["records"]))
    # [END howto_operator_business]

    # [START howto_operator_lead_conversion]
    conversion = [
        AddContactTagsOperator.partial(
            task_id="tag_customer", contacts_conn_id=CONTACTS_CONN_ID, tags=["customer"]
        ).expand(contact_id=converted_ids),
        RemoveContactTagsOperator.partial(
            task_id="untag_lead", contacts_conn_id=CONTACTS_CONN_ID, tags=["lead"]
        ).expand(contact_id=converted_ids),
        CreateContactTaskOperator.partial(
            task_id="create_welcome_task",
            contacts_conn_id=CONTACTS_CONN_ID,
            title=WELCOME_TASK_TITLE,
            body="Converted from lead in the phone system (sync run {{ run_id }}).",
            due_date="{{ (dag_run.run_after + macros.timedelta(days=2)).isoformat() }}",
            retries=0,  # a create is not repeated blindly: the API may have made it before failing
        ).expand(contact_id=converted_ids),
    ]
    # [END howto_operator_lead_conversion]

    @task
    def pull_changes(report: dict) -> dict[str, int]:
        """Bring the contacts changed on the Contacts side in the run's window into the phone system."""
        from dag_support import phone_system

        from airflow_provider_contacts.hooks.contacts import ContactsHook
        from airflow_provider_contacts.hooks.search import range_filter

        hook = ContactsHook(contacts_conn_id=CONTACTS_CONN_ID)
        changed = hook.search_contacts(
            filters=[range_filter("dateUpdated", *sync_window(get_current_context()))],
            sort=[{"field": "dateUpdated", "direction": "asc"}],
        )
        if report["summary"]["dry_run"]:
            return {"updated": 0, "inserted": 0, "unchanged": sum(1 for _ in changed)}
        return phone_system.apply_contacts_changes(
            phone_system.source_hook(SOURCE_CONN_ID), changed, datetime.now(timezone.utc)
        )

    pulled = pull_changes(push.output)
    converted_ids >> pulled  # pushed rows know their contact ids before the pull compares

    @task(trigger_rule=TriggerRule.ALL_DONE, outlets=[CONTACTS_SYNCED])
    def audit() -> dict[str, Any]:
        """One row per run in ``contacts_sync_audit``, whatever happened; fail the run if a step failed."""
        import json

        from airflow.sdk.exceptions import AirflowFailException
        from dag_support.settings import reporting_hook

        from airflow_provider_contacts.coercion import to_datetime
        from airflow_provider_contacts.reporting.tables import AUDIT_TABLE, append_row

        context = get_current_context()
        ti, run_id = context["ti"], context["run_id"]
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[run_id]).get(run_id, {})
        broken = sorted(t for t, state in states.items() if state == "failed")
        not_run = sorted(t for t, state in states.items() if state == "upstream_failed")
        summary = (ti.xcom_pull(task_ids=PUSH_TASK_ID) or {}).get("summary", {})
        pull = ti.xcom_pull(task_ids="pull_changes") or {}
        welcome = [t for t in ti.xcom_pull(task_ids="create_welcome_task", default=[]) or [] if t]
        converted = ti.xcom_pull(task_ids="write_back_ids") or []
        started_at = ti.xcom_pull(task_ids="extract_changes", key="started_at")
        finished = datetime.now(timezone.utc)
        started = to_datetime(started_at, "started_at") or finished
        try:
            window: tuple[datetime | None, datetime | None] = sync_window(context)
        except ValueError as error:  # a bad ``since``: the audit row is written all the same
            broken.append(f"window ({error})")
            window = (None, None)
        row = {
            "dag_id": ti.dag_id,
            "run_id": run_id,
            "interval_start": window[0],
            "interval_end": window[1],
            "started_at": started,
            "finished_at": finished,
            "duration_s": round((finished - started).total_seconds(), 3),
            "records_in": summary.get("total", 0),
            "created": summary.get("created", 0),
            "updated": summary.get("updated", 0),
            "failed": summary.get("failed", 0) + len(broken),
            "converted": len(converted),
            "tasks_created": summary.get("tasks_created", 0) + len(welcome),
            "pulled_back": pull.get("updated", 0) + pull.get("inserted", 0),
            "status": "failed" if broken else "dry_run" if summary.get("dry_run") else "success",
            "details": json.dumps(
                {"failed_tasks": broken, "not_run": not_run, "push": summary, "pull": pull}, default=str
            ),
        }
        append_row(reporting_hook(REPORTING_CONN_ID), AUDIT_TABLE, row)
        if broken:
            raise AirflowFailException(f"sync steps failed: {', '.join(broken)} (audit row written)")
        return {k: v for k, v in row.items() if k != "details"}

    [changes, pulled, business, *conversion] >> audit()


contacts_sync()

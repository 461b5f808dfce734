"""
contacts_archive: contacts without activity for N days are archived; deleted only when asked.

Shows the timetonic integration's use case "archive outdated records" (daily sync and dashboard reporting).
A contact is inactive when neither its ``dateUpdated`` nor its ``lastActivity`` lies within the last
``inactive_days`` days. ``archive_inactive_contacts`` streams them from one search (500 per request, oldest
first, those already tagged ``archived`` left out) and for each one:

1. exports it to the reporting database (table ``contacts_archive``: the main fields and the whole contact
   as JSON), so nothing is lost;
2. adds the ``archived`` tag;
3. takes it out of every campaign (``DELETE .../campaigns/removeAll``) and every workflow of the location
   (``GET /workflows/``, then ``DELETE .../workflow/:workflowId``);
4. deletes it, only with ``delete`` on (then steps 2 and 3 are skipped: the contact goes).

``dry_run`` is on by default: the run reports what it would do and changes nothing, neither the Contacts side
nor the reporting database. A contact the API refuses is reported and the others go through; progress
(counts, rate) is logged as it goes. ``report`` logs the counts and writes one row to
``contacts_sync_audit`` (``status`` ``archived`` or ``dry_run``). Nothing is looked up at parse time.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import Param, TriggerRule, dag, get_current_context, task
from dag_support.settings import CONTACTS_CONN_ID, REPORTING_CONN_ID

from airflow_provider_contacts.reporting.tables import SHORT_TEXT, TEXT, TIMESTAMP, TableSpec

ARCHIVED_TAG = "archived"
ARCHIVE_TABLE = TableSpec(
    name="contacts_archive",
    columns=(
        ("contact_id", SHORT_TEXT),
        ("first_name", SHORT_TEXT),
        ("last_name", SHORT_TEXT),
        ("email", SHORT_TEXT),
        ("phone", SHORT_TEXT),
        ("last_active_at", TIMESTAMP),
        ("archived_at", TIMESTAMP),
        ("run_id", SHORT_TEXT),
        ("action", SHORT_TEXT),
        ("contact", TEXT),
    ),
    order_by="archived_at",
)


def last_active(contact: dict[str, Any]) -> datetime | None:
    """
    When the contact was last active: the later of ``dateUpdated`` and ``lastActivity``.

    :param contact: the API's contact.
    """
    from airflow_provider_contacts.reporting.tables import from_db_timestamp

    moments = [from_db_timestamp(contact.get(name)) for name in ("dateUpdated", "lastActivity")]
    return max((m for m in moments if m is not None), default=None)


@dag(
    dag_id="contacts_archive",
    schedule="0 3 * * *",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["contacts", "reporting"],
    params={
        "inactive_days": Param(365, type="integer", minimum=1, description="no activity for this many days"),
        "dry_run": Param(True, type="boolean", description="report what would be archived, change nothing"),
        "delete": Param(False, type="boolean", description="delete the archived contacts (after the export)"),
    },
    doc_md=__doc__,
)
def contacts_archive() -> None:
    @task
    def archive_inactive_contacts(params: dict[str, Any]) -> dict[str, Any]:
        """Export, tag and detach (or delete) every inactive contact; the report to XCom."""
        import logging
        from functools import partial

        from dag_support.location_directory import workflow_ids
        from dag_support.run_report import Fixes
        from dag_support.settings import reporting_hook

        from airflow_provider_contacts.hooks.contacts import ContactsHook
        from airflow_provider_contacts.hooks.search import range_filter
        from airflow_provider_contacts.progress import ProgressLogger
        from airflow_provider_contacts.reporting.tables import append_row, ensure_table

        dry_run, delete = params["dry_run"], params["delete"]
        now = datetime.now(timezone.utc)
        cutoff = now - timedelta(days=params["inactive_days"])
        hook, report = ContactsHook(contacts_conn_id=CONTACTS_CONN_ID), Fixes()
        sql = None if dry_run else reporting_hook(REPORTING_CONN_ID)
        if sql is not None:
            ensure_table(sql, ARCHIVE_TABLE)
        workflows = [] if delete else workflow_ids(hook)
        run_id = get_current_context()["run_id"]
        progress = ProgressLogger(logging.getLogger(__name__), "inactive contacts")
        candidates = hook.search_contacts(
            filters=[
                range_filter("dateUpdated", lt=cutoff),
                {"field": "tags", "operator": "not_eq", "value": ARCHIVED_TAG},
            ],
            sort=[{"field": "dateUpdated", "direction": "asc"}],
        )
        for contact in candidates:
            active = last_active(contact)
            if active is not None and active >= cutoff:
                continue  # a recent lastActivity: not inactive after all
            cid = contact["id"]
            row = {
                "contact_id": cid,
                "first_name": contact.get("firstName"),
                "last_name": contact.get("lastName"),
                "email": contact.get("email"),
                "phone": contact.get("phone"),
                "last_active_at": active,
                "archived_at": now,
                "run_id": run_id,
                "action": "deleted" if delete else "archived",
                "contact": json.dumps(contact, default=str),
            }
            failed_before = report.counts["could_not_fix"]
            report.fix(
                "exported",
                cid,
                None if sql is None else partial(append_row, sql, ARCHIVE_TABLE, row, create=False),
            )
            # [START howto_hook_campaigns_workflows]
            if delete:
                report.fix("deleted", cid, None if dry_run else partial(hook.delete_contact, cid))
            else:
                report.fix("tagged", cid, None if dry_run else partial(hook.add_tags, cid, [ARCHIVED_TAG]))
                report.fix(
                    "left_campaigns", cid, None if dry_run else partial(hook.remove_from_all_campaigns, cid)
                )
                for workflow_id in workflows:
                    leave = partial(hook.remove_from_workflow, cid, workflow_id)
                    report.fix("left_workflow", f"{cid} {workflow_id}", None if dry_run else leave)
            # [END howto_hook_campaigns_workflows]
            progress.advance(failed=int(report.counts["could_not_fix"] > failed_before))
        progress.finish()
        return {"dry_run": dry_run, "delete": delete, "cutoff": cutoff.isoformat(), **report.as_dict()}

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def report(params: dict[str, Any]) -> dict[str, Any]:
        """Log what was done (or would be) and keep it in ``contacts_sync_audit``."""
        import logging

        from airflow.sdk.exceptions import AirflowFailException
        from dag_support.settings import reporting_hook

        from airflow_provider_contacts.reporting.tables import AUDIT_TABLE, append_row

        context = get_current_context()
        done = context["ti"].xcom_pull(task_ids="archive_inactive_contacts")
        counts = (done or {}).get("counts", {})
        verb = "would be" if params["dry_run"] else "were"
        for kind, count in sorted(counts.items()):
            logging.getLogger(__name__).info("%d %s %s", count, verb, kind)
        append_row(
            reporting_hook(REPORTING_CONN_ID),
            AUDIT_TABLE,
            {
                "dag_id": context["dag"].dag_id,
                "run_id": context["run_id"],
                "started_at": context["dag_run"].start_date,
                "finished_at": datetime.now(timezone.utc),
                "records_in": counts.get("exported", 0),
                "updated": counts.get("tagged", 0),
                "failed": counts.get("could_not_fix", 0) + (done is None),
                "status": "failed" if done is None else "dry_run" if params["dry_run"] else "archived",
                "details": json.dumps(done, default=str),
            },
        )
        if done is None:
            raise AirflowFailException("archiving failed before its report (audit row written)")
        return {"dry_run": params["dry_run"], "counts": counts}

    archive_inactive_contacts() >> report()


contacts_archive()

"""
contacts_reconcile: nightly reconciliation of contacts, lifecycle tags, notes and tasks between the phone
system and HighLevel Contacts; fixes the drift and reports what it fixed.

Shows: a full comparison at a bounded API cost, to catch what an incremental sync can miss (a failed run,
a change outside any data interval, a webhook-free edit). One search pass reads every contact (500 per
request); notes and tasks are read only for the contacts the phone system has call notes or follow-ups
for (the API keeps them per contact, one request each).

- **contacts**: a phone-system row the API does not have is upserted; an API contact the phone system does
  not have is added to it; a contact whose fields differ is fixed on the side that is behind (the newer
  ``updated_at`` / ``dateUpdated`` wins).
- **lifecycle tags**: a customer carries ``customer`` and not ``lead``, a lead carries ``lead``.
- **notes and tasks**: each call note of the phone system exists as a note on the contact (same text), each
  follow-up as a task (same title), completed when it is completed in the phone system.
- **report**: the counts per kind of fix go to XCom and to ``contacts_sync_audit`` (``status`` is
  ``reconciled``, ``details`` lists the first fixes); with ``dry_run`` nothing is written but the report.

Connection ids and paths come from the environment (``dag_support/settings.py``). Nothing is looked up at
parse time.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from functools import partial
from typing import Any

from airflow.sdk import Param, TriggerRule, dag, get_current_context, task
from dag_support.run_report import Fixes
from dag_support.settings import CONTACTS_CONN_ID, REPORTING_CONN_ID, SOURCE_CONN_ID

#: phone-system column -> contact field, for the fields the reconciliation compares.
COMPARED = {"first_name": "firstName", "last_name": "lastName", "email": "email", "phone": "phone"}
PARTS = ("reconcile_contacts", "reconcile_notes_and_tasks")


def _lifecycle_fix(stage: str | None, tags: list[str]) -> tuple[list[str], list[str]]:
    """The tags to add and remove so that the contact's tags say its stage (None: no rule)."""
    have = set(tags)
    if stage is None:
        return [], []
    if stage == "customer":
        return (["customer"] if "customer" not in have else []), (["lead"] if "lead" in have else [])
    return (["lead"] if not have & {"lead", "customer"} else []), []


@dag(
    dag_id="contacts_reconcile",
    schedule="30 2 * * *",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["contacts", "sync"],
    params={"dry_run": Param(False, type="boolean", description="report the drift, fix nothing")},
    doc_md=__doc__,
)
def contacts_reconcile() -> None:
    @task
    def reconcile_contacts(params: dict[str, Any]) -> dict[str, Any]:
        """Contacts and lifecycle tags, both ways."""
        from dag_support import phone_system

        from airflow_provider_contacts.hooks.contacts import ContactsHook
        from airflow_provider_contacts.reporting.tables import from_db_timestamp

        dry_run, fixes, now = params["dry_run"], Fixes(), datetime.now(timezone.utc)
        hook, source = (
            ContactsHook(contacts_conn_id=CONTACTS_CONN_ID),
            phone_system.source_hook(SOURCE_CONN_ID),
        )
        api = list(hook.search_contacts())
        by_id = {c["id"]: c for c in api}
        by_email = {(c.get("email") or "").lower(): c for c in api if c.get("email")}
        rows = phone_system.all_contacts(source)
        known: set[str] = set()
        behind_in_source: list[dict[str, Any]] = []
        for row in rows:
            contact = by_id.get(row["contact_id"] or "") or by_email.get((row["email"] or "").lower())
            if contact is None:

                def create(row: dict[str, Any] = row) -> None:
                    fields = {api_name: row[col] for col, api_name in COMPARED.items() if row[col]}
                    tags = [tag for tag in (row["stage"], "phone-system") if tag]
                    created = hook.upsert_contact({**fields, "tags": tags})["contact"]
                    phone_system.record_contact_ids(source, [(row["source_id"], created["id"])], now)

                fixes.fix("missing_in_api", row["source_id"], None if dry_run else create)
                continue
            known.add(contact["id"])
            differs = [
                col
                for col, api_name in COMPARED.items()
                if (row[col] or None) != (contact.get(api_name) or None)
            ]
            if differs:
                api_time = from_db_timestamp(contact.get("dateUpdated"))
                if row["updated_at"] and api_time and row["updated_at"] > api_time:
                    fields = {COMPARED[col]: row[col] for col in differs}
                    fixes.fix(
                        "fields_to_api",
                        f"{row['source_id']} {differs}",
                        None if dry_run else partial(hook.update_contact, contact["id"], fields),
                    )
                else:
                    fixes.add("fields_to_source", f"{row['source_id']} {differs}")
                    behind_in_source.append(contact)
            add, remove = _lifecycle_fix(row["stage"], contact.get("tags") or [])
            if add:
                fixes.fix(
                    "lifecycle_tags",
                    f"{contact['id']} +{add}",
                    None if dry_run else partial(hook.add_tags, contact["id"], add),
                )
            if remove:
                fixes.fix(
                    "lifecycle_tags",
                    f"{contact['id']} -{remove}",
                    None if dry_run else partial(hook.remove_tags, contact["id"], remove),
                )
        missing_in_source = [c for c in api if c["id"] not in known]
        for contact in missing_in_source:
            fixes.add("missing_in_source", contact["id"])
        if not dry_run:
            phone_system.apply_contacts_changes(source, behind_in_source + missing_in_source, now)
        return fixes.as_dict()

    @task
    def reconcile_notes_and_tasks(params: dict[str, Any]) -> dict[str, Any]:
        """Call notes as notes, follow-ups as tasks, for the contacts the phone system has them for."""
        from dag_support import phone_system

        from airflow_provider_contacts.hooks.contacts import ContactsHook

        dry_run, fixes = params["dry_run"], Fixes()
        hook, source = (
            ContactsHook(contacts_conn_id=CONTACTS_CONN_ID),
            phone_system.source_hook(SOURCE_CONN_ID),
        )
        contact_of = {
            r["source_id"]: r["contact_id"] for r in phone_system.all_contacts(source) if r["contact_id"]
        }
        notes_by_contact: dict[str, list[dict[str, Any]]] = {}
        for note in phone_system.call_notes(source):
            if note["source_id"] in contact_of:
                notes_by_contact.setdefault(contact_of[note["source_id"]], []).append(note)
        for contact_id, notes in notes_by_contact.items():
            have = {n.get("body") for n in hook.get_notes(contact_id)}
            for note in notes:
                if note["body"] not in have:
                    fixes.fix(
                        "note_missing",
                        f"{contact_id}: {note['body'][:40]}",
                        None if dry_run else partial(hook.create_note, contact_id, note["body"]),
                    )
        followups_by_contact: dict[str, list[dict[str, Any]]] = {}
        for followup in phone_system.followups(source):
            if followup["source_id"] in contact_of:
                followups_by_contact.setdefault(contact_of[followup["source_id"]], []).append(followup)
        for contact_id, followups in followups_by_contact.items():
            tasks = {t.get("title"): t for t in hook.get_tasks(contact_id)}
            for followup in followups:
                existing = tasks.get(followup["title"])
                what = f"{contact_id}: {followup['title']}"
                if existing is None:
                    create = partial(
                        hook.create_task,
                        contact_id,
                        followup["title"],
                        followup["due_at"],
                        completed=bool(followup["completed"]),
                    )
                    fixes.fix("task_missing", what, None if dry_run else create)
                elif bool(followup["completed"]) and not existing.get("completed"):
                    complete = partial(hook.complete_task, contact_id, existing["id"])
                    fixes.fix("task_not_completed", what, None if dry_run else complete)
        return fixes.as_dict()

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def report(params: dict[str, Any]) -> dict:
        """Log and store what was fixed (or, with ``dry_run``, what would be)."""
        import json
        import logging

        from airflow.sdk.exceptions import AirflowFailException
        from dag_support.settings import reporting_hook

        from airflow_provider_contacts.reporting.tables import AUDIT_TABLE, append_row

        context = get_current_context()
        parts = {name: context["ti"].xcom_pull(task_ids=name) for name in PARTS}
        counts: Counter[str] = Counter()
        for part in parts.values():
            counts.update((part or {}).get("counts", {}))
        failed = sorted(name for name, part in parts.items() if part is None)
        verb = "would fix" if params["dry_run"] else "fixed"
        for kind, count in sorted(counts.items()):
            logging.getLogger(__name__).info("%s %d x %s", verb, count, kind)
        now = datetime.now(timezone.utc)
        append_row(
            reporting_hook(REPORTING_CONN_ID),
            AUDIT_TABLE,
            {
                "dag_id": context["dag"].dag_id,
                "run_id": context["run_id"],
                "started_at": context["dag_run"].start_date,
                "finished_at": now,
                "created": counts["missing_in_api"],
                "updated": counts["fields_to_api"] + counts["lifecycle_tags"],
                "pulled_back": counts["fields_to_source"] + counts["missing_in_source"],
                "tasks_created": counts["task_missing"],
                "failed": len(failed),
                "status": "failed" if failed else "dry_run" if params["dry_run"] else "reconciled",
                "details": json.dumps({"counts": counts, "failed_parts": failed, **parts}, default=str),
            },
        )
        if failed:
            raise AirflowFailException(
                f"reconciliation incomplete: {', '.join(failed)} failed (report written)"
            )
        return {"dry_run": params["dry_run"], "counts": dict(counts)}

    [reconcile_contacts(), reconcile_notes_and_tasks()] >> report()


contacts_reconcile()

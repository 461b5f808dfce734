"""
contacts_activity: when contacts change, their notes, appointments and tasks are pulled into the phone system.

Shows two integration guides' use cases, started by an ``AssetWatcher`` whose ``ContactChangedTrigger``
reports the contacts updated on the Contacts side (one run per batch of changes):

- **touchSMS**, "new notes or appointments are added for a contact: push notes and schedule events, link them
  to the correct contact" (``GET /contacts/:contactId/notes``, ``GET /contacts/:contactId/appointments``):
  ``pull_notes`` makes every note of a changed contact a call note of the phone system, linked to the
  phone system's contact by its ``note_id``; ``pull_appointments`` puts every appointment in the phone
  system's calendar and keeps its title, times and status up to date;
- **TinyEmail**, "when a contact is viewed or updated, pull related tasks and notes": ``pull_tasks`` makes
  every task of a changed contact a follow-up of the phone system (status, due date and assignee taken from
  the Contacts side where it changed last; nothing is written to the API: ``contacts_task_sync`` does the
  other direction), and ``pull_notes`` the notes.

A contact the phone system does not know yet is counted as ``not_in_source`` (``contacts_sync`` imports it;
the next change brings its activity). Triggered by hand, the run takes the ``contact_ids`` param, or else the
contacts updated since the ``since`` param (default: the last day). Each task reports what it did to XCom;
a record that cannot be stored is reported and the others go through. Nothing is looked up at parse time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import Asset, AssetWatcher, Param, dag, task
from dag_support.settings import CONTACTS_CONN_ID, SOURCE_CONN_ID

from airflow_provider_contacts.triggers.contacts import ContactChangedTrigger

# [START howto_asset_watcher]
CONTACTS_UPDATED = Asset(
    name="contacts_updated",
    group="contacts",
    watchers=[
        AssetWatcher(
            name="contacts_updated_watcher",
            trigger=ContactChangedTrigger(
                contacts_conn_id=CONTACTS_CONN_ID, event="updated", poll_interval=60
            ),
        )
    ],
)
# [END howto_asset_watcher]


def _for_each_linked_contact(contact_ids: list[str], work: str) -> dict[str, Any]:
    """Run one ``activity_feed`` function over the changed contacts the phone system knows."""
    import logging

    from dag_support import activity_feed, phone_system
    from dag_support.location_directory import Agents
    from dag_support.run_report import Fixes

    from airflow_provider_contacts.hooks.contacts import ContactsHook
    from airflow_provider_contacts.progress import ProgressLogger

    hook = ContactsHook(contacts_conn_id=CONTACTS_CONN_ID)
    source = phone_system.source_hook(SOURCE_CONN_ID)
    report = Fixes()
    rows = list(activity_feed.linked_contacts(source, contact_ids))
    for missing in sorted(set(contact_ids) - {row["contact_id"] for row in rows}):
        report.add("not_in_source", missing)
    agents = Agents(hook) if rows and work == "tasks" else None
    progress = ProgressLogger(logging.getLogger(__name__), f"contacts ({work})", total=len(rows))
    for row in rows:
        if work == "notes":
            activity_feed.pull_notes(hook, source, row, report)
        elif work == "appointments":
            activity_feed.pull_appointments(hook, source, row, report)
        else:
            assert agents is not None
            activity_feed.sync_tasks(hook, source, row, agents, report, push=False)
        progress.advance()
    progress.finish()
    return report.as_dict()


@dag(
    dag_id="contacts_activity",
    schedule=[CONTACTS_UPDATED],
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["contacts", "events", "sync"],
    params={
        "contact_ids": Param([], type="array", description="contacts to pull on a manual run"),
        "since": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="manual run without contact_ids: the contacts updated since then (default: a day ago)",
        ),
    },
    doc_md=__doc__,
)
def contacts_activity() -> None:
    @task(inlets=[CONTACTS_UPDATED])
    def changed_contact_ids(
        params: dict[str, Any],
        triggering_asset_events: Any = None,
        inlet_events: Any = None,
        dag_run: Any = None,
    ) -> list[str]:
        """
        The contacts of the asset events that started this run and of those the scheduler held back while
        the previous run was active (``held_back_asset_events``), else of the params.
        """
        from airflow_provider_contacts.assets import held_back_asset_events
        from airflow_provider_contacts.hooks.contacts import ContactsHook
        from airflow_provider_contacts.hooks.search import range_filter
        from airflow_provider_contacts.reporting.tables import from_db_timestamp

        ids = list(params.get("contact_ids") or [])
        events = [
            *(triggering_asset_events or {}).get(CONTACTS_UPDATED, []),
            *held_back_asset_events(inlet_events, dag_run, [CONTACTS_UPDATED]).get(CONTACTS_UPDATED, []),
        ]
        for event in events:
            ids.extend((event.extra or {}).get("payload", {}).get("contact_ids", []))
        if not ids and not events:
            since = from_db_timestamp(params.get("since")) or datetime.now(timezone.utc) - timedelta(days=1)
            hook = ContactsHook(contacts_conn_id=CONTACTS_CONN_ID)
            ids = [c["id"] for c in hook.search_contacts(filters=[range_filter("dateUpdated", gte=since)])]
        return list(dict.fromkeys(ids))

    @task
    def pull_notes(contact_ids: list[str]) -> dict[str, Any]:
        """touchSMS and TinyEmail: the changed contacts' notes, as call notes of the right contact."""
        return _for_each_linked_contact(contact_ids, "notes")

    @task
    def pull_appointments(contact_ids: list[str]) -> dict[str, Any]:
        """touchSMS: the changed contacts' appointments in the phone system's calendar."""
        return _for_each_linked_contact(contact_ids, "appointments")

    @task
    def pull_tasks(contact_ids: list[str]) -> dict[str, Any]:
        """TinyEmail: the changed contacts' tasks as follow-ups (Contacts side to phone system only)."""
        return _for_each_linked_contact(contact_ids, "tasks")

    ids = changed_contact_ids()
    pull_notes(ids)
    pull_appointments(ids)
    pull_tasks(ids)


contacts_activity()

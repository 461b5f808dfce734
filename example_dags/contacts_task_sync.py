"""
contacts_task_sync: two-way task sync between the phone system's follow-ups and the contacts' tasks.

Shows the Toky integration's use case "when a task is created or updated, reflect the change: create or
update tasks, set status, due dates and assignees" (``PUT /contacts/:contactId/tasks/:taskId``), both ways:

- a follow-up the Contacts side does not have becomes a task on the contact (``POST .../tasks``), assigned
  to the user whose e-mail is the follow-up's agent, and its id is written back;
- a task the phone system does not have becomes a follow-up of the right contact;
- a pair that differs in status (completed), due date or assignee is brought in step by the side that
  changed last: the phone system's ``updated_at`` against the task's ``dateUpdated``
  (``activity_feed.sync_tasks``);
- a follow-up with no due date or an agent the location does not know is reported, the others go through.

Every phone-system contact with a Contacts id is read (one request each: the API keeps tasks per contact),
plus one request for the location's users (``GET /users/``, scope ``users.readonly``). ``dry_run`` reports
what would change and writes nothing. The report goes to XCom. Connection ids come from the environment
(``dag_support/settings.py``); nothing is looked up at parse time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import Param, dag, task
from dag_support.settings import CONTACTS_CONN_ID, SOURCE_CONN_ID


@dag(
    dag_id="contacts_task_sync",
    schedule=timedelta(minutes=30),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["contacts", "sync", "tasks"],
    params={"dry_run": Param(False, type="boolean", description="report what would change, write nothing")},
    doc_md=__doc__,
)
def contacts_task_sync() -> None:
    @task
    def sync_tasks_both_ways(params: dict[str, Any]) -> dict[str, Any]:
        """Follow-ups and tasks of every linked contact, kept in step both ways; the report to XCom."""
        import logging

        from dag_support import activity_feed, phone_system
        from dag_support.location_directory import Agents
        from dag_support.run_report import Fixes

        from airflow_provider_contacts.hooks.contacts import ContactsHook
        from airflow_provider_contacts.progress import ProgressLogger

        hook = ContactsHook(contacts_conn_id=CONTACTS_CONN_ID)
        source = phone_system.source_hook(SOURCE_CONN_ID)
        agents, report = Agents(hook), Fixes()
        progress = ProgressLogger(logging.getLogger(__name__), "contacts")
        now = datetime.now(timezone.utc)
        for row in activity_feed.linked_contacts(source):
            activity_feed.sync_tasks(hook, source, row, agents, report, dry_run=params["dry_run"], now=now)
            progress.advance()
        progress.finish()
        return report.as_dict()

    sync_tasks_both_ways()


contacts_task_sync()

"""
contacts_events: onboard every new contact as soon as it appears, with no schedule and no polling task.

Shows: event-driven scheduling with an asset watcher. The ``contacts_created`` asset has an
``AssetWatcher`` whose ``ContactChangedTrigger`` runs in the triggerer: it polls the search API for
contacts created since its watermark (kept in the asset's state store, so a restarted triggerer resumes
where it stopped and reports each contact once) and emits one asset event per batch, carrying the new
contacts' ids. Each event starts this DAG, which, per new contact (dynamic task mapping):

- adds the ``new`` and ``onboarding`` tags (``AddContactTagsOperator``),
- creates an onboarding task due in two days (``CreateContactTaskOperator``),
- logs a note saying so (``CreateContactNoteOperator``).

Trigger it by hand with ``{"contact_ids": [...]}`` as conf to onboard given contacts. The connection id
comes from the environment (``contacts_settings.py``); nothing is looked up at parse time: the trigger
only stores its arguments until the triggerer runs it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Asset, AssetWatcher, Param, dag, task
from contacts_settings import CONTACTS_CONN_ID, WATCH_POLL_INTERVAL

from airflow_provider_contacts.operators import (
    AddContactTagsOperator,
    CreateContactNoteOperator,
    CreateContactTaskOperator,
)
from airflow_provider_contacts.triggers.contacts import ContactChangedTrigger

CONTACTS_CREATED = Asset(
    name="contacts_created",
    group="contacts",
    watchers=[
        AssetWatcher(
            name="contacts_created_watcher",
            trigger=ContactChangedTrigger(
                contacts_conn_id=CONTACTS_CONN_ID, event="created", poll_interval=WATCH_POLL_INTERVAL
            ),
        )
    ],
)
ONBOARDING_TAGS = ["new", "onboarding"]


@dag(
    dag_id="contacts_events",
    schedule=[CONTACTS_CREATED],
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["contacts", "events"],
    params={"contact_ids": Param([], type="array", description="contacts to onboard on a manual run")},
    doc_md=__doc__,
)
def contacts_events() -> None:
    @task
    def new_contact_ids(params: dict[str, Any], triggering_asset_events: Any = None) -> list[str]:
        """The ids carried by the asset events that started this run (or the ``contact_ids`` param)."""
        ids = list(params.get("contact_ids") or [])
        for event in (triggering_asset_events or {}).get(CONTACTS_CREATED, []):
            ids.extend((event.extra or {}).get("payload", {}).get("contact_ids", []))
        return list(dict.fromkeys(ids))

    ids = new_contact_ids()
    AddContactTagsOperator.partial(
        task_id="tag_new_contact", contacts_conn_id=CONTACTS_CONN_ID, tags=ONBOARDING_TAGS
    ).expand(contact_id=ids)
    CreateContactTaskOperator.partial(
        task_id="create_onboarding_task",
        contacts_conn_id=CONTACTS_CONN_ID,
        title="Onboarding call",
        body="New contact: introduce the team and book the kick-off.",
        due_date="{{ (dag_run.run_after + macros.timedelta(days=2)).isoformat() }}",
        retries=0,  # a create is not repeated blindly: the API may have made it before failing
    ).expand(contact_id=ids)
    CreateContactNoteOperator.partial(
        task_id="log_onboarding_note",
        contacts_conn_id=CONTACTS_CONN_ID,
        body="Onboarding started by Airflow (run {{ run_id }}): tagged and given an onboarding task.",
        retries=0,
    ).expand(contact_id=ids)


contacts_events()

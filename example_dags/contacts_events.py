"""
contacts_events: onboard every new contact within seconds, exactly once, from HighLevel's webhooks.

Shows: event-driven scheduling on two assets, ``schedule=(webhooks | poller)``:

- ``contacts_asset(LOCATION_ID, "contacts")`` gets an event from the provider's webhook receiver (the
  ``contacts_webhooks`` plugin on the API server, ``POST /contacts-webhooks/<conn id>``) for every contact
  webhook HighLevel sends; ``extra`` carries ``type`` and ``contact_id``. Only ``ContactCreate`` onboards.
- ``contacts_created`` has an ``AssetWatcher`` whose ``ContactChangedTrigger`` polls the search API once a
  minute for contacts created since its watermark: the safety net for a delivery HighLevel lost (it retries
  only after a 429) or a receiver that was down.

Both report the same contact, so a contact is onboarded only when it does not carry the ``onboarding`` tag
yet, and runs never overlap (``max_active_runs=1``): the run the webhook started tags it first, and the
poller's later run finds the tag and skips it. An event that arrives while a run is active is read from
its asset by the next run (``held_back_asset_events``): Airflow 3.3's scheduler leaves it out of that run's
triggering events, and it would otherwise wait for the DAG's next event.

Per contact to onboard (dynamic task mapping):

- adds the ``new`` and ``onboarding`` tags (``AddContactTagsOperator``),
- then creates an onboarding task due in two days (``CreateContactTaskOperator``),
- and logs a note saying so (``CreateContactNoteOperator``).

Trigger it by hand with ``{"contact_ids": [...]}`` as conf to onboard given contacts (the tag check applies).
The connection id and location come from the environment (``dag_support/settings.py``); nothing is looked up
at parse time.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Asset, AssetWatcher, Param, dag, task
from dag_support.settings import CONTACTS_CONN_ID, LOCATION_ID, WATCH_POLL_INTERVAL

from airflow_provider_contacts.assets import contacts_asset, held_back_asset_events
from airflow_provider_contacts.operators import (
    AddContactTagsOperator,
    CreateContactNoteOperator,
    CreateContactTaskOperator,
)
from airflow_provider_contacts.triggers.contacts import ContactChangedTrigger

# [START howto_webhook_and_watcher_assets]
CONTACT_WEBHOOKS = contacts_asset(LOCATION_ID, "contacts")
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
# [END howto_webhook_and_watcher_assets]
ONBOARDING_TAGS = ["new", "onboarding"]
#: The tag that marks a contact as onboarded.
ONBOARDED = "onboarding"


def contact_ids_from(*event_maps: Any, params: dict[str, Any]) -> list[str]:
    """
    The contacts named by asset events (webhooks' ``ContactCreate``, the poller's batches) and by the
    ``contact_ids`` param, in order, without repeats.

    :param event_maps: mappings of asset to its events: the run's ``triggering_asset_events``, and the
        events the scheduler held back (:func:`~airflow_provider_contacts.assets.held_back_asset_events`).
    :param params: the run's params.
    """
    ids = list(params.get("contact_ids") or [])
    for events in event_maps:
        for event in (events or {}).get(CONTACT_WEBHOOKS, []):
            extra = event.extra or {}
            if extra.get("type") == "ContactCreate" and extra.get("contact_id"):
                ids.append(extra["contact_id"])
        for event in (events or {}).get(CONTACTS_CREATED, []):
            ids.extend((event.extra or {}).get("payload", {}).get("contact_ids", []))
    return list(dict.fromkeys(ids))


@dag(
    dag_id="contacts_events",
    schedule=(CONTACT_WEBHOOKS | CONTACTS_CREATED),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["contacts", "events"],
    params={"contact_ids": Param([], type="array", description="contacts to onboard on a manual run")},
    doc_md=__doc__,
)
def contacts_events() -> None:
    # [START howto_held_back_asset_events]
    @task(inlets=[CONTACT_WEBHOOKS, CONTACTS_CREATED])
    def new_contact_ids(
        params: dict[str, Any],
        triggering_asset_events: Any = None,
        inlet_events: Any = None,
        dag_run: Any = None,
    ) -> list[str]:
        """
        The ids carried by the asset events that started this run, and by those the scheduler held back
        while the previous run was active (or the ``contact_ids`` param).
        """
        held_back = held_back_asset_events(inlet_events, dag_run, [CONTACT_WEBHOOKS, CONTACTS_CREATED])
        return contact_ids_from(triggering_asset_events, held_back, params=params)

    # [END howto_held_back_asset_events]

    @task
    def not_onboarded(contact_ids: list[str]) -> list[str]:
        """Keep the contacts that exist and do not carry the ``onboarding`` tag yet."""
        from airflow_provider_contacts.exceptions import ContactsNotFoundError
        from airflow_provider_contacts.hooks.contacts import ContactsHook

        hook = ContactsHook(contacts_conn_id=CONTACTS_CONN_ID)
        todo = []
        for contact_id in contact_ids:
            try:
                contact = hook.get_contact(contact_id)
            except ContactsNotFoundError:
                continue  # deleted since
            if ONBOARDED not in (contact.get("tags") or []):
                todo.append(contact_id)
        return todo

    ids = not_onboarded(new_contact_ids())
    # [START howto_operator_tags_task_note]
    tagged = AddContactTagsOperator.partial(
        task_id="tag_new_contact", contacts_conn_id=CONTACTS_CONN_ID, tags=ONBOARDING_TAGS
    ).expand(contact_id=ids)
    onboarding_task = CreateContactTaskOperator.partial(
        task_id="create_onboarding_task",
        contacts_conn_id=CONTACTS_CONN_ID,
        title="Onboarding call",
        body="New contact: introduce the team and book the kick-off.",
        due_date="{{ (dag_run.run_after + macros.timedelta(days=2)).isoformat() }}",
        retries=0,  # a create is not repeated blindly: the API may have made it before failing
    ).expand(contact_id=ids)
    note = CreateContactNoteOperator.partial(
        task_id="log_onboarding_note",
        contacts_conn_id=CONTACTS_CONN_ID,
        body="Onboarding started by Airflow (run {{ run_id }}): tagged and given an onboarding task.",
        retries=0,
    ).expand(contact_id=ids)
    tagged >> [onboarding_task, note]
    # [END howto_operator_tags_task_note]


contacts_events()

"""
contacts_milestones: campaign milestones update the contact's status and last event, and log a note.

Shows the ToneDen integration's use case "as campaigns reach milestones, update the contact's status"
(``PUT /contacts/:contactId``, key fields ``status`` and ``lastEvent``) and "log notes whenever events
occur". The campaign system reports milestones as events of the ``campaign_milestones`` asset (an asset
event posted to Airflow's REST API, ``POST /api/v2/assets/events``, with ``{"events": [...]}`` in its
``extra``), or by hand as the ``events`` param. Each event is ``{"contact_id" or "email", "campaign",
"milestone", "occurred_at"}``.

- ``check_events`` checks every event (a missing field, an unknown contact or a time that is not ISO-8601
  is reported by field and event, in the XCom ``report``, and the other events go through) and finds its
  contact by id or e-mail;
- ``status_updates`` takes each contact's newest event: its milestone becomes the contact's ``Status``
  custom field and ``"<campaign>: <milestone> (<time>)"`` its ``Last Event``, which ``update_status`` sets
  (``UpdateContactOperator``, mapped over the contacts);
- ``log_milestone_note`` logs a note per event (``CreateContactNoteOperator``, mapped over the events).

The custom fields are addressed by key (``status``, ``last_event``): create them in the location first.
Nothing is looked up at parse time.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Asset, Param, dag, get_current_context, task
from dag_support.settings import CONTACTS_CONN_ID

from airflow_provider_contacts.operators import CreateContactNoteOperator, UpdateContactOperator

CAMPAIGN_MILESTONES = Asset(name="campaign_milestones", group="contacts")
STATUS_FIELD, LAST_EVENT_FIELD = "status", "last_event"
REQUIRED = ("campaign", "milestone", "occurred_at")


def check_event(event: Any, number: int) -> dict[str, Any]:
    """
    One milestone event, checked and with ``occurred_at`` as an aware datetime.

    :param event: the event as sent.
    :param number: its position in the batch, for the error.
    :raises ValueError: naming the event and the field.
    """
    from airflow_provider_contacts.reporting.tables import from_db_timestamp

    if not isinstance(event, dict):
        raise ValueError(f"event #{number}: must be an object, got {type(event).__name__}")
    missing = [name for name in REQUIRED if not event.get(name)]
    if not (event.get("contact_id") or event.get("email")):
        missing.insert(0, "contact_id or email")
    if missing:
        raise ValueError(f"event #{number}: {', '.join(missing)} missing")
    try:
        occurred = from_db_timestamp(event["occurred_at"])
    except (ValueError, TypeError):
        occurred = None
    if occurred is None:
        raise ValueError(f"event #{number}: occurred_at is not an ISO-8601 time: {event['occurred_at']!r}")
    return {**event, "occurred_at": occurred}


@dag(
    dag_id="contacts_milestones",
    schedule=[CAMPAIGN_MILESTONES],
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["contacts", "events"],
    params={"events": Param([], type="array", description="milestone events on a manual run")},
    doc_md=__doc__,
)
def contacts_milestones() -> None:
    @task
    def check_events(params: dict[str, Any], triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """The events that name a known contact, with its id; the others reported (XCom ``report``)."""
        import logging

        from dag_support.run_report import Fixes

        from airflow_provider_contacts.exceptions import ContactsNotFoundError, ContactsValidationError
        from airflow_provider_contacts.hooks.contacts import ContactsHook

        raw = list(params.get("events") or [])
        for asset_event in (triggering_asset_events or {}).get(CAMPAIGN_MILESTONES, []):
            raw.extend((asset_event.extra or {}).get("events", []))
        hook, report = ContactsHook(contacts_conn_id=CONTACTS_CONN_ID), Fixes()
        accepted = []
        for number, event in enumerate(raw, 1):
            try:
                event = check_event(event, number)
                if event.get("contact_id"):
                    contact_id = hook.get_contact(event["contact_id"])["id"]
                else:
                    found = hook.find_duplicate_contact(email=event["email"])
                    if found is None:
                        raise ValueError(f"event #{number}: email {event['email']!r}: no such contact")
                    contact_id = found["id"]
            except ValueError as error:
                report.add("invalid", str(error))
                continue
            except (ContactsNotFoundError, ContactsValidationError) as error:
                report.add("invalid", f"event #{number}: contact_id {event['contact_id']!r}: {error.message}")
                continue
            when = event["occurred_at"].isoformat(timespec="seconds").replace("+00:00", "Z")
            line = f"{event['campaign']}: {event['milestone']} ({when})"
            report.add("accepted", f"{contact_id} {line}")
            accepted.append(
                {"contact_id": contact_id, "milestone": event["milestone"], "at": when, "line": line}
            )
        logging.getLogger(__name__).info("%d events: %s", len(raw), dict(report.counts))
        get_current_context()["ti"].xcom_push(key="report", value=report.as_dict())
        return accepted

    # [START howto_operator_update_contact]
    @task
    def status_updates(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Per contact, its newest event as the ``Status`` and ``Last Event`` fields."""
        newest: dict[str, dict[str, Any]] = {}
        for event in events:
            if event["contact_id"] not in newest or event["at"] >= newest[event["contact_id"]]["at"]:
                newest[event["contact_id"]] = event
        return [
            {
                "contact_id": contact_id,
                "fields": {
                    "customFields": [
                        {"key": STATUS_FIELD, "field_value": event["milestone"]},
                        {"key": LAST_EVENT_FIELD, "field_value": event["line"]},
                    ]
                },
            }
            for contact_id, event in newest.items()
        ]

    @task
    def note_per_event(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One note per event, on its contact."""
        return [{"contact_id": e["contact_id"], "body": f"Campaign milestone: {e['line']}"} for e in events]

    events = check_events()
    UpdateContactOperator.partial(task_id="update_status", contacts_conn_id=CONTACTS_CONN_ID).expand_kwargs(
        status_updates(events)
    )
    CreateContactNoteOperator.partial(
        task_id="log_milestone_note",
        contacts_conn_id=CONTACTS_CONN_ID,
        retries=0,  # a create is not repeated blindly: the API may have made it before failing
    ).expand_kwargs(note_per_event(events))
    # [END howto_operator_update_contact]


contacts_milestones()

"""
contacts_activity (touchSMS: notes and appointments; TinyEmail: tasks and notes of updated contacts) and
contacts_task_sync (Toky: tasks kept in step both ways) against the sandbox and the phone system.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.dags.usecases.conftest import World, xcom

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


def _link(world: World, contacts: list[dict[str, Any]], prefix: str) -> dict[str, str]:
    """Give the phone system a row for each contact (as a past sync left it); return contact id -> source id."""
    from dag_support import phone_system

    source = phone_system.source_hook()
    long_ago = datetime.now(timezone.utc) - timedelta(days=30)
    ids = {}
    for i, contact in enumerate(contacts):
        ids[contact["id"]] = f"{prefix}-{i}"
        phone_system.add_row(
            source,
            phone_system.CONTACTS,
            {
                "source_id": ids[contact["id"]],
                **phone_system.contact_values(contact),
                "stage": "lead",
                "updated_at": long_ago,
                "contact_id": contact["id"],
                "synced_at": long_ago,
            },
        )
    return ids


def _rows(spec: Any, source_id: str) -> list[dict[str, Any]]:
    from dag_support import phone_system

    return phone_system.rows_for_contact(phone_system.source_hook(), spec, source_id)


def test_activity_pulls_notes_appointments_and_tasks_of_changed_contacts(world: World) -> None:
    from airflow.utils.state import DagRunState
    from dag_support import phone_system

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    hook, info = ContactsHook(), world.sb.info()
    linked, stranger = world.sb.all_contacts()[:2]
    source_id = _link(world, [linked], "act")[linked["id"]]
    source = phone_system.source_hook()
    # The phone system logged a call note that was also written on the Contacts side: linked, not copied.
    phone_system.add_row(
        source,
        phone_system.CALL_NOTES,
        {"source_id": source_id, "body": "Left a voicemail", "logged_at": None},
    )
    twin = hook.create_note(linked["id"], "Left a voicemail")
    note = hook.create_note(linked["id"], "Asked for the spring catalogue")
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)
    event = hook.request(
        "POST",
        "/calendars/events/appointments",
        json={
            "calendarId": info["calendarIds"][0],
            "locationId": world.sb.location_id,
            "contactId": linked["id"],
            "startTime": start.isoformat(),
            "endTime": (start + timedelta(minutes=45)).isoformat(),
            "title": "Product demo",
            "appointmentStatus": "confirmed",
        },
        version="2021-04-15",
    )
    task = hook.create_task(linked["id"], "Send brochure", start, assigned_to=info["userIds"][1])
    agents = {
        u["id"]: u["email"]
        for u in hook.request("GET", "/users/", params={"locationId": world.sb.location_id})["users"]
    }
    seeded = {n["id"] for n in hook.get_notes(linked["id"])} - {twin["id"], note["id"]}

    run = world.run("contacts_activity", contact_ids=[linked["id"], stranger["id"]], since=None)
    assert run.state == DagRunState.SUCCESS
    notes = {n["note_id"]: n for n in _rows(phone_system.CALL_NOTES, source_id)}
    assert set(notes) == {twin["id"], note["id"], *seeded}, "every note, once, linked to the contact's row"
    assert notes[note["id"]]["body"] == "Asked for the spring catalogue"
    (appointment,) = [
        a for a in _rows(phone_system.APPOINTMENTS, source_id) if a["appointment_id"] == event["id"]
    ]
    assert (appointment["title"], appointment["status"]) == ("Product demo", "confirmed")
    assert appointment["starts_at"] == start and appointment["ends_at"] == start + timedelta(minutes=45)
    followups = {f["task_id"]: f for f in _rows(phone_system.FOLLOWUPS, source_id)}
    assert followups[task["id"]]["title"] == "Send brochure"
    assert followups[task["id"]]["assigned_to"] == agents[info["userIds"][1]]
    assert followups[task["id"]]["due_at"] == start and followups[task["id"]]["completed"] == 0
    for task_id in ("pull_notes", "pull_appointments", "pull_tasks"):
        assert xcom(run, task_id)["counts"]["not_in_source"] == 1, "the stranger is reported"
    assert xcom(run, "pull_notes")["counts"]["note_linked"] == 1

    again = world.run("contacts_activity", contact_ids=[linked["id"]], since=None)
    assert again.state == DagRunState.SUCCESS
    assert [xcom(again, t)["counts"] for t in ("pull_notes", "pull_appointments", "pull_tasks")] == [
        {},
        {},
        {},
    ]
    assert len(_rows(phone_system.CALL_NOTES, source_id)) == len(notes), "nothing pulled twice"


def test_task_sync_both_ways_newer_change_wins(world: World) -> None:
    from airflow.utils.state import DagRunState
    from dag_support import phone_system

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    hook, info = ContactsHook(), world.sb.info()
    users = hook.request("GET", "/users/", params={"locationId": world.sb.location_id})["users"]
    email = {u["id"]: u["email"] for u in users}
    # contacts with no seeded tasks, so the assertions see only this test's
    contact = next(c for c in world.sb.all_contacts()[5:] if not hook.get_tasks(c["id"]))
    source_id = _link(world, [contact], "toky")[contact["id"]]
    source = phone_system.source_hook()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    due = now + timedelta(days=2)
    for title, due_at, agent in (
        ("Send contract", due, email[info["userIds"][2]]),
        ("No due date", None, None),
        ("Unknown agent", due, "nobody@agents.test"),
    ):
        row = {"source_id": source_id, "title": title, "due_at": due_at, "completed": 0, "assigned_to": agent}
        phone_system.add_row(source, phone_system.FOLLOWUPS, {**row, "updated_at": now})
    invoice = hook.create_task(
        contact["id"], "Check invoice", now + timedelta(days=5), assigned_to=info["userIds"][3]
    )

    first = world.run("contacts_task_sync", dry_run=False)
    assert first.state == DagRunState.SUCCESS
    report = xcom(first, "sync_tasks_both_ways")
    assert report["counts"] == {"invalid": 2, "task_created": 1, "followup_created": 1}
    assert any("due_at is missing" in d for d in report["details"])
    assert any(
        "assigned_to: no user of the location has the e-mail 'nobody@agents.test'" in d
        for d in report["details"]
    )
    tasks = {t["title"]: t for t in hook.get_tasks(contact["id"])}
    assert set(tasks) == {"Send contract", "Check invoice"}
    assert tasks["Send contract"]["assignedTo"] == info["userIds"][2]
    assert tasks["Send contract"]["dueDate"].startswith(due.strftime("%Y-%m-%dT%H:%M:%S"))
    followups = {f["title"]: f for f in _rows(phone_system.FOLLOWUPS, source_id)}
    assert followups["Send contract"]["task_id"] == tasks["Send contract"]["id"]
    assert followups["Check invoice"]["task_id"] == invoice["id"]
    assert followups["Check invoice"]["assigned_to"] == email[info["userIds"][3]]

    # Both sides change both pairs; the later change wins each time.
    contract = tasks["Send contract"]["id"]
    hook.update_task(contact["id"], contract, assigned_to=info["userIds"][4])  # first on the API side ...
    where = {"source_id": source_id, "title": "Send contract"}
    phone_system.update_rows(
        source, phone_system.FOLLOWUPS, where, {"completed": 1, "updated_at": datetime.now(timezone.utc)}
    )  # ... then in the phone system: the phone system wins
    where = {"source_id": source_id, "title": "Check invoice"}
    phone_system.update_rows(
        source,
        phone_system.FOLLOWUPS,
        where,
        {"due_at": now + timedelta(days=9), "updated_at": datetime.now(timezone.utc)},
    )  # first in the phone system ...
    later = now + timedelta(days=7)
    hook.update_task(
        contact["id"], invoice["id"], due_date=later, completed=True
    )  # ... then on the API: it wins

    second = world.run("contacts_task_sync", dry_run=False)
    assert second.state == DagRunState.SUCCESS
    counts = xcom(second, "sync_tasks_both_ways")["counts"]
    assert (counts["task_updated"], counts["followup_updated"]) == (1, 1)
    sent = hook.get_task(contact["id"], contract)
    assert sent["completed"] is True and sent["assignedTo"] == info["userIds"][2], "the phone system's state"
    followups = {f["title"]: f for f in _rows(phone_system.FOLLOWUPS, source_id)}
    assert followups["Check invoice"]["due_at"] == later and followups["Check invoice"]["completed"] == 1

    settled = world.run("contacts_task_sync", dry_run=True)
    assert xcom(settled, "sync_tasks_both_ways")["counts"] == {"invalid": 2}, "in step: nothing left to do"


def test_activity_takes_the_watchers_contacts_or_those_updated_since(world: World) -> None:
    """The trigger's payload names the contacts; a manual run with none takes those updated since ``since``."""
    from types import SimpleNamespace

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    dag = world.bag.dags["contacts_activity"]
    (asset,) = dag.timetable.asset_condition.objects
    assert [type(w.trigger).__name__ for w in asset.watchers] == ["ContactChangedTrigger"]
    assert asset.watchers[0].trigger.serialize()[1]["event"] == "updated"
    pick = dag.get_task("changed_contact_ids").python_callable
    events = {
        asset: [
            SimpleNamespace(extra={"from_trigger": True, "payload": {"contact_ids": ["a", "b"]}}),
            SimpleNamespace(extra={"from_trigger": True, "payload": {"contact_ids": ["b", "c"]}}),
        ]
    }
    assert pick(params={"contact_ids": [], "since": None}, triggering_asset_events=events) == ["a", "b", "c"]

    since = datetime.now(timezone.utc)
    touched = world.sb.all_contacts()[20:23]
    for contact in touched:
        ContactsHook().add_tags(contact["id"], ["touched"])
    picked = pick(params={"contact_ids": [], "since": since.isoformat()}, triggering_asset_events={})
    assert set(picked) == {c["id"] for c in touched}

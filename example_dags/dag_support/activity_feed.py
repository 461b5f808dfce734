"""
Notes, appointments and tasks of contacts, between the Contacts API and the phone system (not a DAG).

The pieces the activity DAG (touchSMS, TinyEmail) and the task-sync DAG (Toky) share. Each works on one
contact the phone system knows (its row carries the Contacts ``contact_id``), costs one request to read
what the API has for that contact, and records what it did in a :class:`run_report.Fixes`, so a record the
API or the phone system cannot take is reported and the others go through.

- :func:`pull_notes`: every note of the contact is a call note of the phone system, linked by ``note_id``
  (a call note the phone system already has with the same text is linked, not copied).
- :func:`pull_appointments`: every appointment of the contact is a row of the phone system's calendar, kept
  up to date (title, times, status) by ``appointment_id``.
- :func:`sync_tasks`: every task of the contact is a follow-up of the phone system and the other way round;
  for a pair that differs in status, due date or assignee, the side that changed last wins (the phone
  system's ``updated_at`` against the task's ``dateUpdated``; a task without one counts as the newer).
  With ``push=False`` only the Contacts side's news reach the phone system (nothing is written to the API).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from functools import partial
from typing import Any

from airflow_provider_contacts.reporting.tables import from_db_timestamp
from dag_support import phone_system
from dag_support.location_directory import Agents
from dag_support.run_report import Fixes

FOLLOWUP_FIELDS = ("completed", "due_at", "assigned_to")


def linked_contacts(source: Any, contact_ids: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """
    The phone system's contacts that have a Contacts id (only those of ``contact_ids`` when given).

    :param source: the phone system's database.
    :param contact_ids: the contacts to keep, or None for all.
    """
    wanted = set(contact_ids) if contact_ids is not None else None
    for row in phone_system.all_contacts(source):
        if row["contact_id"] and (wanted is None or row["contact_id"] in wanted):
            yield row


def pull_notes(hook: Any, source: Any, row: dict[str, Any], report: Fixes, dry_run: bool = False) -> None:
    """
    Bring the contact's notes into the phone system's call notes.

    :param hook: a ``ContactsHook``.
    :param source: the phone system's database.
    :param row: the phone system's contact (with ``contact_id``).
    :param report: where what was done is counted.
    :param dry_run: count only.
    """
    have = phone_system.rows_for_contact(source, phone_system.CALL_NOTES, row["source_id"])
    linked = {n["note_id"] for n in have if n["note_id"]}
    unlinked = {n["body"]: n for n in have if not n["note_id"]}
    for note in hook.get_notes(row["contact_id"]):
        if note["id"] in linked:
            continue
        what = f"{row['source_id']} note {note['id']}"
        twin = unlinked.pop(note.get("body") or "", None)
        if twin is not None:
            where = {"source_id": row["source_id"], "body": twin["body"], "note_id": None}
            link = partial(
                phone_system.update_rows, source, phone_system.CALL_NOTES, where, {"note_id": note["id"]}
            )
            report.fix("note_linked", what, None if dry_run else link)
            continue
        values = {
            "source_id": row["source_id"],
            "body": note.get("body") or "",
            "logged_at": from_db_timestamp(note.get("dateAdded")),
            "note_id": note["id"],
        }
        report.fix(
            "note_pulled",
            what,
            None if dry_run else partial(phone_system.add_row, source, phone_system.CALL_NOTES, values),
        )


def pull_appointments(
    hook: Any, source: Any, row: dict[str, Any], report: Fixes, dry_run: bool = False
) -> None:
    """
    Bring the contact's appointments into the phone system's calendar, and keep them up to date.

    :param hook: a ``ContactsHook``.
    :param source: the phone system's database.
    :param row: the phone system's contact (with ``contact_id``).
    :param report: where what was done is counted.
    :param dry_run: count only.
    """
    have = {
        a["appointment_id"]: a
        for a in phone_system.rows_for_contact(source, phone_system.APPOINTMENTS, row["source_id"])
    }
    for event in hook.get_appointments(row["contact_id"]):
        what = f"{row['source_id']} appointment {event.get('id')}"
        try:
            values = {
                "title": event.get("title") or "Appointment",
                "starts_at": _required_time(event, "startTime"),
                "ends_at": from_db_timestamp(event.get("endTime")),
                "status": event.get("appointmentStatus") or event.get("status"),
                "updated_at": from_db_timestamp(event.get("dateUpdated")),
            }
        except ValueError as error:
            report.add("invalid", f"{what}: {error}")
            continue
        known = have.get(event["id"])
        if known is None:
            new = {"appointment_id": event["id"], "source_id": row["source_id"], **values}
            add = partial(phone_system.add_row, source, phone_system.APPOINTMENTS, new)
            report.fix("appointment_pulled", what, None if dry_run else add)
        elif any(known[k] != v for k, v in values.items()):
            where = {"appointment_id": event["id"]}
            update = partial(phone_system.update_rows, source, phone_system.APPOINTMENTS, where, values)
            report.fix("appointment_updated", what, None if dry_run else update)


def _required_time(obj: dict[str, Any], name: str) -> datetime:
    try:
        value = from_db_timestamp(obj.get(name))
    except ValueError:
        value = None
    if value is None:
        raise ValueError(f"{name} is missing or not a date: {obj.get(name)!r}")
    return value


def _second(value: datetime | None) -> datetime | None:
    return value.replace(microsecond=0) if value else None


def _task_state(task: dict[str, Any], agents: Agents) -> dict[str, Any]:
    """A Contacts task as the phone system's follow-up columns."""
    return {
        "completed": 1 if task.get("completed") else 0,
        "due_at": _second(from_db_timestamp(task.get("dueDate"))),
        "assigned_to": agents.email(task.get("assignedTo")),
    }


def sync_tasks(
    hook: Any,
    source: Any,
    row: dict[str, Any],
    agents: Agents,
    report: Fixes,
    *,
    push: bool = True,
    dry_run: bool = False,
    now: datetime | None = None,
) -> None:
    """
    Keep the contact's tasks and the phone system's follow-ups in step: status, due date and assignee.

    :param hook: a ``ContactsHook``.
    :param source: the phone system's database.
    :param row: the phone system's contact (with ``contact_id``).
    :param agents: the location's users, to map an agent's e-mail to a user id and back.
    :param report: where what was done is counted.
    :param push: also write the phone system's news to the API (False: pull only).
    :param dry_run: count only.
    :param now: the time of this sync (UTC).
    """
    now = now or datetime.now(timezone.utc)
    contact_id, source_id = row["contact_id"], row["source_id"]
    tasks = {t["id"]: t for t in hook.get_tasks(contact_id)}
    followups = phone_system.rows_for_contact(source, phone_system.FOLLOWUPS, source_id)
    linked = {f["task_id"] for f in followups if f["task_id"]}
    unlinked_by_title = {t.get("title"): t for t in tasks.values() if t["id"] not in linked}
    for followup in followups:
        what = f"{source_id} follow-up {followup['title']!r}"
        try:
            if not followup["title"]:
                raise ValueError("title is empty")
            if followup["due_at"] is None:
                raise ValueError("due_at is missing")
            assignee = agents.user_id(followup["assigned_to"])
        except ValueError as error:
            report.add("invalid", f"{what}: {error}")
            continue
        task = tasks.get(followup["task_id"] or "") or (
            None if followup["task_id"] else unlinked_by_title.pop(followup["title"], None)
        )
        if task is None:
            if followup["task_id"]:
                report.add("deleted_in_api", what)  # kept in the phone system; nothing to sync to
            elif push:
                create = partial(_create_task, hook, source, contact_id, followup, assignee)
                report.fix("task_created", what, None if dry_run else create)
            continue
        tasks.pop(task["id"], None)
        if not followup["task_id"] and not dry_run:
            unlinked = {"source_id": source_id, "title": followup["title"], "task_id": None}
            phone_system.update_rows(source, phone_system.FOLLOWUPS, unlinked, {"task_id": task["id"]})
        where = {"task_id": task["id"]}
        theirs = _task_state(task, agents)
        ours = {k: followup[k] for k in FOLLOWUP_FIELDS}
        ours["due_at"] = _second(ours["due_at"])
        ours["completed"] = 1 if ours["completed"] else 0
        differs = sorted(k for k in FOLLOWUP_FIELDS if ours[k] != theirs[k])
        if not differs:
            continue
        api_time = from_db_timestamp(task.get("dateUpdated")) or now
        source_time = followup["updated_at"]
        if source_time is not None and source_time > api_time:
            if push:
                update = partial(
                    hook.update_task,
                    contact_id,
                    task["id"],
                    completed=bool(ours["completed"]) if "completed" in differs else None,
                    due_date=ours["due_at"] if "due_at" in differs else None,
                    assigned_to=assignee if "assigned_to" in differs else None,
                )
                report.fix("task_updated", f"{what} {differs}", None if dry_run else update)
            continue
        values = {k: theirs[k] for k in differs} | {"updated_at": api_time}
        update_row = partial(phone_system.update_rows, source, phone_system.FOLLOWUPS, where, values)
        report.fix("followup_updated", f"{what} {differs}", None if dry_run else update_row)
    for task in tasks.values():
        if task["id"] in linked:
            continue
        new = {
            "source_id": source_id,
            "title": task.get("title") or "(untitled task)",
            **_task_state(task, agents),
            "task_id": task["id"],
            "updated_at": from_db_timestamp(task.get("dateUpdated")) or now,
        }
        add = partial(phone_system.add_row, source, phone_system.FOLLOWUPS, new)
        report.fix("followup_created", f"{source_id} task {task['id']}", None if dry_run else add)


def _create_task(
    hook: Any, source: Any, contact_id: str, followup: dict[str, Any], assignee: str | None
) -> dict[str, Any]:
    """Create the follow-up's task and write its id back (a lost answer would make a second one: no retry)."""
    task = hook.create_task(
        contact_id,
        followup["title"],
        followup["due_at"],
        assigned_to=assignee,
        completed=bool(followup["completed"]),
    )
    unlinked = {"source_id": followup["source_id"], "title": followup["title"], "task_id": None}
    phone_system.update_rows(source, phone_system.FOLLOWUPS, unlinked, {"task_id": task["id"]})
    return task

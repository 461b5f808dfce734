"""
The stand-in source system of the example DAGs (not a DAG): a phone system's contacts, call notes and
follow-ups, kept in three SQL tables behind any Airflow SQL connection (a SQLite file by default).

Replace these functions with your own system's reads and writes; the DAGs only rely on their signatures.
Timestamps are UTC. ``updated_at`` is when a row last changed in the phone system; the sync pushes the rows
changed in its data interval and writes back the Contacts id and ``synced_at``. A lead becomes a customer
when ``stage`` turns to ``customer`` (``converted_at`` says when).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_contacts.hooks.sql import get_sql_hook
from airflow_provider_contacts.reporting.tables import (
    INTEGER,
    SHORT_TEXT,
    TEXT,
    TIMESTAMP,
    TableSpec,
    append_row,
    ensure_table,
    from_db_timestamp,
    to_db_value,
)
from dag_support.settings import SOURCE_CONN_ID, demo_dir

CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "company")
#: ``stage`` values: a lead, a customer, or None for a contact that came from the API with neither tag.

CONTACTS = TableSpec(
    name="phone_contacts",
    columns=(
        ("source_id", SHORT_TEXT),
        ("first_name", SHORT_TEXT),
        ("last_name", SHORT_TEXT),
        ("email", SHORT_TEXT),
        ("phone", SHORT_TEXT),
        ("company", SHORT_TEXT),
        ("stage", SHORT_TEXT),
        ("converted_at", TIMESTAMP),
        ("updated_at", TIMESTAMP),
        ("contact_id", SHORT_TEXT),
        ("synced_at", TIMESTAMP),
    ),
    order_by="updated_at",
)
CALL_NOTES = TableSpec(
    name="phone_call_notes",
    # note_id: the Contacts note it is (set when the note came from the Contacts side)
    columns=(("source_id", SHORT_TEXT), ("body", TEXT), ("logged_at", TIMESTAMP), ("note_id", SHORT_TEXT)),
    order_by="logged_at",
)
FOLLOWUPS = TableSpec(
    name="phone_followups",
    columns=(
        ("source_id", SHORT_TEXT),
        ("title", SHORT_TEXT),
        ("due_at", TIMESTAMP),
        ("completed", INTEGER),
        ("task_id", SHORT_TEXT),  # the Contacts task it is kept in step with
        ("assigned_to", SHORT_TEXT),  # the agent's e-mail
        ("updated_at", TIMESTAMP),  # when it last changed in the phone system
    ),
    order_by="due_at",
)
#: The contacts' appointments, as the phone system's calendar shows them (read from the Contacts side).
APPOINTMENTS = TableSpec(
    name="phone_appointments",
    columns=(
        ("appointment_id", SHORT_TEXT),
        ("source_id", SHORT_TEXT),
        ("title", SHORT_TEXT),
        ("starts_at", TIMESTAMP),
        ("ends_at", TIMESTAMP),
        ("status", SHORT_TEXT),
        ("updated_at", TIMESTAMP),
    ),
    order_by="starts_at",
)
TABLES = (CONTACTS, CALL_NOTES, FOLLOWUPS, APPOINTMENTS)


def source_hook(conn_id: str = SOURCE_CONN_ID) -> DbApiHook:
    """
    The phone system's database, with its tables created when missing (call at run time only).

    :param conn_id: an Airflow SQL connection; when undefined, ``phone_system.db`` in :func:`demo_dir`.
    """
    hook = get_sql_hook(conn_id, default_sqlite_path=demo_dir() / "phone_system.db")
    for spec in TABLES:
        ensure_table(hook, spec)
    return hook


def _select(hook: DbApiHook, spec: TableSpec, where: str = "", parameters: Sequence[Any] = ()) -> list[dict]:
    sql = f"SELECT {', '.join(spec.column_names)} FROM {spec.name}"
    if where:
        sql += f" WHERE {where.replace('?', hook.placeholder)}"
    records = hook.get_records(sql, parameters=[to_db_value(p) for p in parameters]) or []
    stamps = spec.timestamp_columns
    return [
        {c: from_db_timestamp(v) if c in stamps else v for c, v in zip(spec.column_names, r, strict=True)}
        for r in records
    ]


def all_contacts(hook: DbApiHook) -> list[dict[str, Any]]:
    """
    Every contact of the phone system.

    :param hook: the phone system's database (from :func:`source_hook`, tables made).
    """
    return _select(hook, CONTACTS)


def changed_contacts(hook: DbApiHook, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """
    The contacts changed in ``[start, end)``.

    :param hook: the phone system's database (from :func:`source_hook`, tables made).
    :param start: inclusive start (UTC).
    :param end: exclusive end (UTC).
    """
    return _select(hook, CONTACTS, "updated_at >= ? AND updated_at < ?", (start, end))


def call_notes(hook: DbApiHook) -> list[dict[str, Any]]:
    """
    Every call note.

    :param hook: the phone system's database (from :func:`source_hook`, tables made).
    """
    return _select(hook, CALL_NOTES)


def followups(hook: DbApiHook) -> list[dict[str, Any]]:
    """
    Every follow-up.

    :param hook: the phone system's database (from :func:`source_hook`, tables made).
    """
    return _select(hook, FOLLOWUPS)


def _update(hook: DbApiHook, source_id: str, values: Mapping[str, Any]) -> None:
    assignments = ", ".join(f"{column} = {hook.placeholder}" for column in values)
    parameters = [to_db_value(v) for v in values.values()] + [source_id]
    hook.run(
        f"UPDATE {CONTACTS.name} SET {assignments} WHERE source_id = {hook.placeholder}",
        parameters=parameters,
    )


def record_contact_ids(hook: DbApiHook, pairs: Iterable[tuple[str, str]], synced_at: datetime) -> int:
    """
    Write back the Contacts id of pushed rows; return how many rows were written.

    :param hook: the phone system's database (from :func:`source_hook`, tables made).
    :param pairs: ``(source_id, contact_id)`` pairs.
    :param synced_at: when they were pushed.
    """
    count = 0
    for source_id, contact_id in pairs:
        _update(hook, source_id, {"contact_id": contact_id, "synced_at": synced_at})
        count += 1
    return count


def contact_values(contact: Mapping[str, Any]) -> dict[str, Any]:
    """
    A Contacts API contact as phone-system columns (the reverse of the sync's field mapping).

    :param contact: the API's contact object.
    """
    return {
        "first_name": contact.get("firstName"),
        "last_name": contact.get("lastName"),
        "email": contact.get("email"),
        "phone": contact.get("phone"),
        "company": contact.get("companyName"),
    }


def lifecycle_stage(tags: Iterable[str]) -> str | None:
    """
    The phone-system stage that a contact's tags say: ``customer``, ``lead``, or None (neither tag).

    :param tags: the contact's tags.
    """
    have = set(tags)
    return "customer" if "customer" in have else "lead" if "lead" in have else None


def _api_time(value: Any) -> datetime:
    parsed = from_db_timestamp(value)
    return parsed or datetime.now(timezone.utc)


def apply_contacts_changes(
    hook: DbApiHook, contacts: Iterable[Mapping[str, Any]], synced_at: datetime
) -> dict[str, int]:
    """
    Bring changes made on the Contacts side into the phone system; return ``{updated, inserted, unchanged}``.

    A contact is matched by its id, then by e-mail. A matched row is updated only where the values differ
    (so the sync's own writes, seen again by the next run, change nothing); a contact the phone system does
    not know is inserted with the source id ``ghl-<contact id>``. A ``customer`` tag on a lead's contact
    converts the lead.

    :param hook: the phone system's database (from :func:`source_hook`, tables made).
    :param contacts: contacts from the API, e.g. those updated in the data interval.
    :param synced_at: the time of this sync.
    """
    rows = all_contacts(hook)
    by_id = {r["contact_id"]: r for r in rows if r["contact_id"]}
    by_email = {(r["email"] or "").lower(): r for r in rows if r["email"]}
    counts = {"updated": 0, "inserted": 0, "unchanged": 0}
    for contact in contacts:
        row = by_id.get(contact["id"]) or by_email.get((contact.get("email") or "").lower())
        values = contact_values(contact)
        changed_at = _api_time(contact.get("dateUpdated"))
        customer = "customer" in (contact.get("tags") or [])
        if row is None:
            append_row(
                hook,
                CONTACTS,
                create=False,
                row={
                    "source_id": f"ghl-{contact['id']}",
                    **values,
                    "stage": lifecycle_stage(contact.get("tags") or []),
                    "updated_at": changed_at,
                    "contact_id": contact["id"],
                    "synced_at": synced_at,
                },
            )
            counts["inserted"] += 1
            continue
        diff = {k: v for k, v in values.items() if (v or None) != (row[k] or None)}
        if customer and row["stage"] != "customer":
            diff.update(stage="customer", converted_at=changed_at)
        if not diff and row["contact_id"] == contact["id"]:
            counts["unchanged"] += 1
            continue
        values = {**diff, "updated_at": changed_at, "contact_id": contact["id"], "synced_at": synced_at}
        _update(hook, row["source_id"], values)
        counts["updated"] += 1
    return counts


# ------------------------------------------------------------------------------------------ demo activity


def simulate_activity(source: DbApiHook, contacts: Any, now: datetime, new_leads: int = 12) -> dict[str, int]:
    """
    Give the demo something to sync: a day of activity on both sides, all of it at ``now``.

    In the phone system: rows for eight contacts the two systems already share (synced before ``now``),
    three of those leads converted to customers and three edited; ``new_leads`` new leads (one with an
    invalid e-mail, so the audit shows a failed record); call notes and follow-ups for the reconciliation.
    On the Contacts side, through the hook: two shared contacts edited and two contacts created.

    :param source: the phone system's database (from :func:`source_hook`, tables made).
    :param contacts: a ``ContactsHook`` (or anything with ``search_contacts``, ``update_contact``,
        ``upsert_contact``).
    :param now: the time of the changes (UTC); the sync run whose data interval holds it picks them up.
    :param new_leads: how many new leads the phone system gets.
    :return: what was done, by kind.
    """
    from datetime import timedelta

    long_ago = now - timedelta(days=30)
    shared = []
    for contact in contacts.search_contacts(sort=[{"field": "dateAdded", "direction": "asc"}], page_limit=50):
        if contact.get("email") and "customer" not in (contact.get("tags") or []):
            shared.append(contact)
        if len(shared) == 8:
            break
    for i, contact in enumerate(shared):
        row = {
            "source_id": f"ps-{i:04d}",
            **contact_values(contact),
            "stage": "lead",
            "updated_at": long_ago,
            "contact_id": contact["id"],
            "synced_at": long_ago,
        }
        if i < 3:
            row.update(stage="customer", converted_at=now, updated_at=now)
        elif i < 6:
            row.update(company=f"Phone Co {i}", updated_at=now)
        append_row(source, CONTACTS, create=False, row=row)
        append_row(
            source,
            CALL_NOTES,
            create=False,
            row={
                "source_id": row["source_id"],
                "body": f"Call {i}: asked about pricing",
                "logged_at": now - timedelta(hours=i + 1),
            },
        )
        if i % 2 == 0:
            append_row(
                source,
                FOLLOWUPS,
                create=False,
                row={
                    "source_id": row["source_id"],
                    "title": f"Send quote #{i}",
                    "due_at": now + timedelta(days=i + 1),
                    "completed": 0,
                },
            )
    for i in range(new_leads):
        append_row(
            source,
            CONTACTS,
            create=False,
            row={
                "source_id": f"ps-new-{i:04d}",
                "first_name": f"Caller{i}",
                "last_name": "Demo",
                "email": "not-an-email" if i == 0 else f"caller{i}.demo@phone.test",
                "phone": f"+1555010{i:04d}"[:12],
                "stage": "lead",
                "updated_at": now,
            },
        )
    for i, contact in enumerate(shared[6:8]):
        contacts.update_contact(contact["id"], {"phone": f"+1555999000{i}"})
    for i in range(2):
        contacts.upsert_contact(
            {"firstName": f"Web{i}", "lastName": "Signup", "email": f"web{i}@signup.test"}
        )
    return {
        "shared": len(shared),
        "converted": 3,
        "edited": 3,
        "new_leads": new_leads,
        "api_edited": 2,
        "api_created": 2,
    }


# ------------------------------------------------------------------ notes, appointments and follow-ups


def rows_for_contact(hook: DbApiHook, spec: TableSpec, source_id: str) -> list[dict[str, Any]]:
    """
    The rows of ``CALL_NOTES``, ``FOLLOWUPS`` or ``APPOINTMENTS`` that belong to one phone-system contact.

    :param hook: the phone system's database (from :func:`source_hook`, tables made).
    :param spec: the table.
    :param source_id: the contact's ``source_id``.
    """
    return _select(hook, spec, "source_id = ?", (source_id,))


def add_row(hook: DbApiHook, spec: TableSpec, row: Mapping[str, Any]) -> None:
    """
    Insert one note, follow-up or appointment.

    :param hook: the phone system's database (from :func:`source_hook`, tables made).
    :param spec: the table.
    :param row: its values (missing columns are NULL).
    """
    append_row(hook, spec, row, create=False)


def update_rows(
    hook: DbApiHook, spec: TableSpec, where: Mapping[str, Any], values: Mapping[str, Any]
) -> None:
    """
    Change the rows whose columns equal ``where``.

    :param hook: the phone system's database (from :func:`source_hook`, tables made).
    :param spec: the table.
    :param where: column -> value that picks the rows (None: the column is NULL).
    :param values: column -> new value.
    """
    unknown = (set(where) | set(values)) - set(spec.column_names)
    if unknown:
        raise ValueError(f"Not columns of {spec.name}: {sorted(unknown)}")
    assignments = ", ".join(f"{column} = {hook.placeholder}" for column in values)
    condition = " AND ".join(
        f"{column} IS NULL" if value is None else f"{column} = {hook.placeholder}"
        for column, value in where.items()
    )
    hook.run(
        f"UPDATE {spec.name} SET {assignments} WHERE {condition}",
        parameters=[to_db_value(v) for v in [*values.values(), *where.values()] if v is not None],
    )

"""
ContactsToSqlOperator against a sandbox server process and a real database of each kind (SQLite, PostgreSQL,
MariaDB): a first load, an incremental window (a changed contact, a new one, a task added and one deleted),
a rerun of that window that changes nothing, a changed custom field, a contact deleted in HighLevel marked by
the sweep, and a window with no change that costs one search.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle

pytestmark = pytest.mark.integration

TABLE = "crm_contacts"
EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
#: SQLite keeps the custom fields as one JSON column, the servers as a column per field.
CUSTOM_MODE = {"sqlite": "json", "postgres": "columns", "mariadb": "columns"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _run(start: datetime, end: datetime, custom_fields: str, **kwargs: Any) -> dict[str, Any]:
    from airflow_provider_contacts.transfers import ContactsToSqlOperator

    operator = ContactsToSqlOperator(
        task_id="to_sql", sql_conn_id="warehouse", table=TABLE, custom_fields=custom_fields, **kwargs
    )
    return operator.execute({"data_interval_start": start, "data_interval_end": end})  # type: ignore[arg-type]


def _rows(table: str) -> dict[str, dict[str, Any]]:
    from airflow_provider_contacts.hooks.sql import get_sql_hook

    conn = get_sql_hook("warehouse").get_conn()
    try:
        cursor = conn.cursor()
        cursor.execute(f"SELECT * FROM {table} ORDER BY id")
        names = [d[0] for d in cursor.description]
        return {str(row[0]): dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    finally:
        conn.close()


def _snapshot() -> dict[str, dict[str, dict[str, Any]]]:
    return {t: _rows(t) for t in (TABLE, f"{TABLE}_tasks", f"{TABLE}_notes", f"{TABLE}_appointments")}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _custom_value(row: dict[str, Any], mode: str, key: str) -> Any:
    return row[f"cf_{key}"] if mode == "columns" else _json(row["custom_fields"]).get(key)


def test_first_load_incremental_rerun_custom_field_and_deletion(
    warehouse: str, contacts: SandboxHandle
) -> None:
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    mode = CUSTOM_MODE[warehouse]
    hook = ContactsHook()
    api_contacts = {c["id"]: c for c in contacts.all_contacts()}
    api_tasks = list(hook.search_location_tasks())

    # First load: every contact, with its tasks, notes and appointments, in tables created for it.
    first = _run(EPOCH, _now() + timedelta(seconds=1), mode)
    assert first["merged"]["contacts"] == {"inserted": 30, "updated": 0, "unchanged": 0, "deleted": 0}
    assert first["bad_record_count"] == 0
    rows = _rows(TABLE)
    assert set(rows) == set(api_contacts)
    sample = next(c for c in api_contacts.values() if c.get("email") and c.get("customFields"))
    assert rows[sample["id"]]["email"] == sample["email"]
    assert _json(rows[sample["id"]]["tags"]) == sample["tags"]
    assert set(_rows(f"{TABLE}_tasks")) == {t["id"] for t in api_tasks}
    notes = {n["id"] for cid in api_contacts for n in hook.get_notes(cid)}
    assert set(_rows(f"{TABLE}_notes")) == notes and notes

    # Incremental: a renamed contact, a new one, and a contact that gained a task and lost one.
    mark = _now()
    owner = next(t["contactId"] for t in api_tasks)
    gone_task = next(t["id"] for t in api_tasks if t["contactId"] == owner)
    renamed = next(cid for cid in api_contacts if cid != owner)
    hook.update_contact(renamed, {"firstName": "Renamed"})
    new = hook.create_contact({"firstName": "Newcomer", "email": "newcomer@example.com"})
    hook.delete_task(owner, gone_task)
    added_task = hook.create_task(owner, "Warehouse check", "2030-01-01T00:00:00Z")
    hook.update_contact(owner, {"tags": ["warehouse"]})
    window = (mark, _now() + timedelta(seconds=1))
    incremental = _run(*window, mode)
    assert incremental["merged"]["contacts"] == {"inserted": 1, "updated": 2, "unchanged": 0, "deleted": 0}
    assert incremental["merged"]["tasks"]["inserted"] == 1
    assert incremental["merged"]["tasks"]["deleted"] == 1
    rows = _rows(TABLE)
    assert rows[renamed]["first_name"] == "Renamed"
    assert rows[new["id"]]["email"] == "newcomer@example.com"
    tasks = _rows(f"{TABLE}_tasks")
    assert bool(tasks[gone_task]["_deleted"]) and not bool(tasks[added_task["id"]]["_deleted"])

    # A rerun of the same window changes nothing, not even _loaded_at.
    before = _snapshot()
    rerun = _run(*window, mode)
    assert rerun["merged"]["contacts"] == {"inserted": 0, "updated": 0, "unchanged": 3, "deleted": 0}
    assert _snapshot() == before

    # A changed custom field lands in its column (or in the JSON column).
    field = next(f for f in contacts.info()["customFields"] if f["fieldKey"] == "contact.lifetime_value")
    mark = _now()
    hook.update_contact(sample["id"], {"customFields": [{"id": field["id"], "value": 4321.5}]})
    changed = _run(mark, _now() + timedelta(seconds=1), mode)
    assert changed["merged"]["contacts"]["updated"] == 1
    assert float(_custom_value(_rows(TABLE)[sample["id"]], mode, "lifetime_value")) == 4321.5

    # A contact deleted in HighLevel is marked by the sweep; nothing else is.
    hook.delete_contact(renamed)
    mark = _now()
    swept = _run(mark, _now() + timedelta(seconds=1), mode, sweep_deleted=True)
    assert swept["merged"]["contacts"]["deleted"] == 1
    rows = _rows(TABLE)
    assert [cid for cid, row in rows.items() if bool(row["_deleted"])] == [renamed]
    assert rows[renamed]["_deleted_at"] is not None

    # A window with no change costs one search request.
    mark = _now()
    quiet = _run(mark, mark + timedelta(seconds=1), mode)
    assert quiet["api_calls"] == 1
    assert quiet["extracted"]["contacts"] == 0


def test_a_manual_run_without_since_continues_from_the_tables_newest_change(
    warehouse: str, contacts: SandboxHandle
) -> None:
    """No data interval and no since: the window starts at the table's newest date_updated minus the lookback."""
    from types import SimpleNamespace

    from airflow_provider_contacts.coercion import to_datetime
    from airflow_provider_contacts.hooks.contacts import ContactsHook
    from airflow_provider_contacts.transfers import ContactsToSqlOperator

    def manual(**kwargs: Any) -> dict[str, Any]:
        operator = ContactsToSqlOperator(
            task_id="to_sql", sql_conn_id="warehouse", table=TABLE, include=[], lookback_seconds=30, **kwargs
        )
        run = SimpleNamespace(run_after=_now() + timedelta(seconds=1))
        return operator.execute({"dag_run": run, "run_id": "manual__1"})  # type: ignore[arg-type]

    first = manual(since=EPOCH.isoformat())
    assert first["merged"]["contacts"]["inserted"] == 30
    newest = max(to_datetime(row["date_updated"]) for row in _rows(TABLE).values())

    renamed = next(iter(_rows(TABLE)))
    ContactsHook().update_contact(renamed, {"firstName": "Manual"})
    second = manual()
    assert to_datetime(second["window"]["start"]) == newest - timedelta(seconds=30)
    assert second["merged"]["contacts"]["inserted"] == 0
    assert second["merged"]["contacts"]["updated"] == 1
    assert _rows(TABLE)[renamed]["first_name"] == "Manual"

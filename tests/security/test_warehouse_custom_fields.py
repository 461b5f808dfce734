"""
The warehouse boundary, custom fields: a location admin names fields anything, so keys that normalise to one
column (case, punctuation, the cut at 56 characters, Unicode letters, the ``contact.`` prefix) each keep
their own column (or JSON key), in SQL (SQLite, PostgreSQL, MariaDB) and in NDJSON and Parquet files, and the
``custom_fields`` mapping says which field is where.

The fields are made through the sandbox's Locations API routes, as an admin would (the API derives each key
from the name), and, for keys outside the form the API derives today (no prefix, upper case, punctuation),
through the sandbox's admin route.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle
from tests.integration.warehouse.conftest import warehouse as warehouse  # the fixture

pytestmark = pytest.mark.integration

EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
TABLE = "crm"
LONG = "Average order value over the last twelve months in the currency of the customer "
NAMES = ("Tier", LONG + "online", LONG + "in store", "Größe", "Grüße")
LEGACY_KEYS = ("tier", "contact.Tier", "contact.tier!")


def _colliding_fields(contacts: SandboxHandle) -> dict[str, str]:
    """Make the fields, give one contact a value in each; return field id -> value."""
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    client = contacts.client()
    made = []
    for name in NAMES:
        response = client.post(
            f"/locations/{contacts.location_id}/customFields", json={"name": name, "dataType": "TEXT"}
        )
        assert response.status_code == 201, response.text
        made.append(response.json()["customField"])
    made += [contacts.add_custom_field(f"Legacy {key}", key) for key in LEGACY_KEYS]
    assert [f["fieldKey"] for f in made[:3]] == [
        "contact.tier",
        "contact.average_order_value_over_the_last_twelve_months_in_the_currency_of_the_customer_online",
        "contact.average_order_value_over_the_last_twelve_months_in_the_currency_of_the_customer_in_store",
    ]
    values = {f["id"]: f"value of {f['fieldKey']}" for f in made}
    contact = contacts.all_contacts()[0]["id"]
    ContactsHook().update_contact(
        contact, {"customFields": [{"id": i, "value": v} for i, v in values.items()]}
    )
    return values


def _window() -> dict[str, Any]:
    return {
        "data_interval_start": EPOCH,
        "data_interval_end": datetime.now(timezone.utc) + timedelta(seconds=1),
    }


def _landed(row: dict[str, Any], mapping: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    """Field id -> the value found where the mapping says the field lands."""
    if mode == "json":
        custom = row["custom_fields"]
        custom = json.loads(custom) if isinstance(custom, str) else custom
        return {m["id"]: custom.get(m["json_key"]) for m in mapping}
    return {m["id"]: row.get(m["column_name"]) for m in mapping}


def _every_value_once(row: dict[str, Any], mode: str, values: dict[str, str]) -> None:
    """Every value is in the row once (none overwritten or dropped), whatever the names."""
    flat = row["custom_fields"] if mode == "json" else row
    flat = json.loads(flat) if isinstance(flat, str) else flat
    assert Counter(v for v in flat.values() if v in values.values()) == Counter(values.values())


def _as_mapped(row: dict[str, Any], mapping: list[dict[str, Any]], mode: str, values: dict[str, str]) -> None:
    """Each value is under the name the mapping gives its field, one name per field."""
    ours = [m for m in mapping if m["id"] in values]
    names = [m["json_key" if mode == "json" else "column_name"] for m in ours]
    assert len(set(names)) == len(values)
    assert _landed(row, ours, mode) == values


def _sql_rows(table: str) -> list[dict[str, Any]]:
    from airflow_provider_contacts.hooks.sql import get_sql_hook

    conn = get_sql_hook("warehouse").get_conn()
    try:
        cursor = conn.cursor()
        cursor.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        conn.close()


@pytest.mark.parametrize("mode", ["columns", "json"])
def test_colliding_keys_each_land_in_their_own_column_in_sql(
    warehouse: str, contacts: SandboxHandle, mode: str
) -> None:
    from airflow_provider_contacts.transfers import ContactsToSqlOperator

    values = _colliding_fields(contacts)
    operator = ContactsToSqlOperator(
        task_id="to_sql", sql_conn_id="warehouse", table=TABLE, include=(), custom_fields=mode
    )
    report = operator.execute(_window())  # type: ignore[arg-type]

    assert report["bad_record_count"] == 0
    row = next(r for r in _sql_rows(TABLE) if "value of contact.tier" in json.dumps(r, default=str))
    _every_value_once(row, mode, values)
    _as_mapped(row, _sql_rows(f"{TABLE}_custom_fields"), mode, values)


@pytest.mark.parametrize("mode", ["columns", "json"])
@pytest.mark.parametrize("file_format", ["ndjson", "parquet"])
def test_colliding_keys_each_land_in_their_own_column_in_files(
    contacts: SandboxHandle, tmp_path: Path, file_format: str, mode: str
) -> None:
    from airflow_provider_contacts.transfers import ContactsToObjectStorageOperator

    values = _colliding_fields(contacts)
    operator = ContactsToObjectStorageOperator(
        task_id="to_files",
        path=f"file://{tmp_path}",
        file_format=file_format,
        include=(),
        custom_fields=mode,
    )
    files = operator.execute(_window())["files"]  # type: ignore[arg-type]

    def read(url: str) -> list[dict[str, Any]]:
        path = Path(url.removeprefix("file://"))
        if file_format == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_table(path).to_pylist())
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    row = next(r for r in read(files["contacts"]) if "value of contact.tier" in json.dumps(r, default=str))
    _every_value_once(row, mode, values)
    _as_mapped(row, read(files["custom_fields"]), mode, values)

"""
Rows and bad records, without a server: each bad record is reported by entity, id and field while the others
land in the table; too many bad contacts fail the task after the good ones landed; bad settings fail at parse
time; a rerun of a window with the same data is unchanged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_contacts.engines.records import FieldError, convert
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.transfers import ContactsToSqlOperator

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 2, tzinfo=timezone.utc)
FIELDS = [{"id": "f1", "fieldKey": "contact.lifetime_value", "dataType": "MONETORY"}]


def _contact(i: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"c{i}",
        "email": f"p{i}@example.com",
        "dateAdded": "2026-11-01T10:00:00.000Z",
        "dateUpdated": "2026-11-01T11:00:00.000Z",
        "tags": ["a"],
        "customFields": [{"id": "f1", "value": i * 10}],
        **fields,
    }


class FakeHook:
    """The reads an extraction makes, from lists; counts one request per call (per page)."""

    contacts_conn_id = "contacts_default"
    location_id = "loc-1"
    log = logging.getLogger("fake-hook")

    def __init__(
        self,
        contacts: list[dict[str, Any]],
        tasks: list[dict[str, Any]] | None = None,
        fields: list[dict[str, Any]] | None = None,
    ) -> None:
        self.contacts = contacts
        self.tasks = tasks or []
        self.fields = FIELDS if fields is None else fields
        self.requests_sent = 0

    def request(self, method: str, path: str, json: Any = None, **kwargs: Any) -> dict[str, Any]:
        self.requests_sent += 1
        assert (method, path) == ("POST", "/contacts/search")
        return {"contacts": [], "total": len(self.contacts)}

    def search_contacts(self, filters: Any = None, sort: Any = None, page_limit: int = 500) -> Iterator[dict]:
        self.requests_sent += 1
        yield from self.contacts

    def get_custom_fields(self) -> list[dict[str, Any]]:
        self.requests_sent += 1
        return self.fields

    def report_origin(self) -> dict[str, Any]:
        return {"conn_id": self.contacts_conn_id, "location_id": self.location_id}

    def search_location_tasks(self, contact_ids: list[str] | None = None) -> Iterator[dict]:
        self.requests_sent += 1
        yield from (t for t in self.tasks if contact_ids is None or t["contactId"] in contact_ids)


def _operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hook: FakeHook, **kwargs: Any) -> Any:
    monkeypatch.setenv("AIRFLOW_CONN_WH", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "w.db")}))
    operator = ContactsToSqlOperator(task_id="t", sql_conn_id="wh", include=["tasks"], **kwargs)
    operator.__dict__["hook"] = hook  # the cached hook property
    return operator


def _table(tmp_path: Path, table: str) -> dict[str, tuple]:
    import sqlite3

    with sqlite3.connect(tmp_path / "w.db") as db:
        return {row[0]: row for row in db.execute(f"SELECT * FROM {table}")}


def test_bad_records_are_reported_by_id_and_field_and_the_rest_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = [_contact(i) for i in range(40)]
    bad = [
        _contact(90, dateUpdated="last tuesday"),
        _contact(91, dnd="yes"),
        _contact(92, customFields=[{"id": "f1", "value": "a lot"}]),
    ]
    tasks = [
        {"id": "t1", "contactId": "c1", "title": "ok", "completed": False},
        {"id": "t2", "contactId": "c2", "title": "bad", "completed": "no"},
    ]
    operator = _operator(
        tmp_path, monkeypatch, FakeHook(good + bad, tasks), custom_fields="columns", max_bad_ratio=0.1
    )
    report = operator.execute({"data_interval_start": T0, "data_interval_end": T1})
    assert report["bad_records"] == [
        {
            "entity": "contacts",
            "id": "c90",
            "field": "dateUpdated",
            "error": "expected an ISO-8601 date-time, got 'last tuesday'",
        },
        {"entity": "contacts", "id": "c91", "field": "dnd", "error": "expected true or false, got 'yes'"},
        {
            "entity": "contacts",
            "id": "c92",
            "field": "customFields.lifetime_value",
            "error": "expected a number, got 'a lot'",
        },
        {"entity": "tasks", "id": "t2", "field": "completed", "error": "expected true or false, got 'no'"},
    ]
    assert set(_table(tmp_path, "contacts")) == {c["id"] for c in good}
    assert set(_table(tmp_path, "contacts_tasks")) == {"t1"}
    assert report["merged"]["contacts"]["inserted"] == 40

    again = operator.execute({"data_interval_start": T0, "data_interval_end": T1})
    assert again["merged"]["contacts"] == {"inserted": 0, "updated": 0, "unchanged": 40, "deleted": 0}


def test_too_many_bad_contacts_fail_the_task_after_the_good_ones_landed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contacts = [_contact(1), _contact(2, email=["not", "text"])]
    operator = _operator(tmp_path, monkeypatch, FakeHook(contacts))
    with pytest.raises(
        AirflowException, match=r"1 of 2 contacts .* contacts c2: email: expected text, got list"
    ):
        operator.execute({"data_interval_start": T0, "data_interval_end": T1})
    assert set(_table(tmp_path, "contacts")) == {"c1"}


def test_a_manual_run_needs_since_and_bad_settings_fail_at_parse_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = _operator(tmp_path, monkeypatch, FakeHook([]))
    with pytest.raises(ContactsConfigError, match="pass since"):
        operator.execute({})
    with pytest.raises(ContactsConfigError, match="since must be a point in time"):
        _operator(tmp_path, monkeypatch, FakeHook([]), since="yesterday").execute({})
    with pytest.raises(ContactsConfigError, match="include: unknown"):
        ContactsToSqlOperator(task_id="x", sql_conn_id="wh", include=["deals"])
    with pytest.raises(ContactsConfigError, match="custom_fields must be"):
        ContactsToSqlOperator(task_id="x", sql_conn_id="wh", custom_fields="wide")


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("timestamp", "2026-01-02 03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("timestamp", 1767225600000, datetime(2026, 1, 1, tzinfo=timezone.utc)),
        ("number", "12.5", 12.5),
        ("json", {"b": 1, "a": [1]}, '{"a":[1],"b":1}'),
        ("bool", None, None),
    ],
)
def test_convert(kind: str, value: Any, expected: Any) -> None:
    assert convert(kind, value, "f") == expected


@pytest.mark.parametrize(
    ("kind", "value"), [("text", 5), ("bool", 1), ("number", True), ("number", "nan"), ("key", "")]
)
def test_convert_refuses(kind: str, value: Any) -> None:
    with pytest.raises(FieldError) as error:
        convert(kind, value, "field_x")
    assert error.value.field == "field_x"


def test_a_related_record_that_turns_bad_is_reported_not_marked_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = FakeHook([_contact(1)], [{"id": "t1", "contactId": "c1", "title": "ok", "completed": False}])
    operator = _operator(tmp_path, monkeypatch, hook)
    operator.execute({"data_interval_start": T0, "data_interval_end": T1})
    hook.tasks = [{"id": "t1", "contactId": "c1", "title": "ok", "completed": "maybe"}]
    report = operator.execute({"data_interval_start": T0, "data_interval_end": T1})
    assert report["merged"]["tasks"]["deleted"] == 0 and report["bad_record_count"] == 1
    assert _table(tmp_path, "contacts_tasks")["t1"][-2] == 0  # _deleted
    hook.tasks = []
    report = operator.execute({"data_interval_start": T0, "data_interval_end": T1})
    assert report["merged"]["tasks"]["deleted"] == 1
    assert _table(tmp_path, "contacts_tasks")["t1"][-2] == 1


def test_lookback_starts_the_window_earlier() -> None:
    from datetime import timedelta

    from airflow_provider_contacts.windows import run_window

    window = run_window({"data_interval_start": T0, "data_interval_end": T1}, lookback=timedelta(minutes=5))
    assert (window.start, window.end) == (T0 - timedelta(minutes=5), T1)
    with pytest.raises(ContactsConfigError, match="lookback_seconds must be a number of at least 0"):
        ContactsToSqlOperator(task_id="x", sql_conn_id="wh", lookback_seconds=-1)


def test_a_window_of_several_search_pages_lands_every_contact_including_the_last_partial_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contacts = [_contact(i) for i in range(1203)]  # two full pages of 500 and one of 203
    operator = _operator(
        tmp_path, monkeypatch, FakeHook(contacts), since=T0.isoformat(), until=T1.isoformat()
    )
    report = operator.execute({})
    assert report["extracted"]["contacts"] == 1203
    assert report["merged"]["contacts"]["inserted"] == 1203
    assert set(_table(tmp_path, "contacts")) == {f"c{i}" for i in range(1203)}


COLLIDING = [
    {"id": "f1", "fieldKey": "contact.plan-type", "dataType": "TEXT"},
    {"id": "f2", "fieldKey": "contact.plan_type", "dataType": "TEXT"},
]


def _two_keys_never_share_a_column(tmp_path: Path, run: Any) -> None:
    """Each key's value in a column of its own, or the run refused naming both keys."""
    try:
        run()
    except ContactsConfigError as error:
        assert "plan-type" in str(error) and "plan_type" in str(error)
        return
    row = _table_rows(tmp_path, "contacts")["c1"]
    holding = {column for column, value in row.items() if value in ("gold", "silver")}
    assert len(holding) == 2, f"both keys' values in distinct columns, got {row}"


def _table_rows(tmp_path: Path, table: str) -> dict[str, dict[str, Any]]:
    import sqlite3

    with sqlite3.connect(tmp_path / "w.db") as db:
        cursor = db.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor}


def test_two_custom_field_keys_never_share_a_column_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = [{"id": "f1", "value": "gold"}, {"id": "f2", "value": "silver"}]
    window = {"since": T0.isoformat(), "until": T1.isoformat(), "custom_fields": "columns"}
    # a new table
    hook = FakeHook([_contact(1, customFields=values)], fields=COLLIDING)
    _two_keys_never_share_a_column(
        tmp_path, lambda: _operator(tmp_path, monkeypatch, hook, **window).execute({})
    )
    # a table made before the second field existed
    (tmp_path / "w.db").unlink(missing_ok=True)
    first = FakeHook([_contact(1, customFields=values[:1])], fields=COLLIDING[:1])
    _operator(tmp_path, monkeypatch, first, **window).execute({})
    hook = FakeHook([_contact(1, customFields=values)], fields=COLLIDING)
    _two_keys_never_share_a_column(
        tmp_path, lambda: _operator(tmp_path, monkeypatch, hook, **window).execute({})
    )

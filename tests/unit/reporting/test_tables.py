"""The reporting tables through a real ``SqliteHook`` from an Airflow connection, and the fallback."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from airflow.providers.sqlite.hooks.sqlite import SqliteHook
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_contacts.hooks.sql import get_sql_hook
from airflow_provider_contacts.reporting.tables import (
    AUDIT_TABLE,
    METRICS_TABLE,
    append_row,
    check_table_name,
    create_table_sql,
    read_rows,
)

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def sqlite_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqliteHook:
    db = tmp_path / "reporting.db"
    monkeypatch.setenv("AIRFLOW_CONN_TEST_REPORTING", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    hook = get_sql_hook("test_reporting")
    assert isinstance(hook, SqliteHook)
    return hook


def _metrics_row(i: int) -> dict[str, object]:
    return {
        "dag_id": "contacts_dashboard",
        "run_id": f"run{i}",
        "computed_at": T0 + timedelta(hours=i),
        "interval_start": T0 + timedelta(hours=i - 1),
        "interval_end": T0 + timedelta(hours=i),
        "location_id": "loc",
        "contacts_total": 100 + i,
        "contacts_new": i,
        "top_tags": json.dumps({"vip": i}),
    }


def test_append_creates_the_table_and_reads_back_in_time_order(sqlite_hook: SqliteHook) -> None:
    for i in (2, 0, 1):
        append_row(sqlite_hook, METRICS_TABLE, _metrics_row(i))
    rows = read_rows(sqlite_hook, METRICS_TABLE)
    assert [row["run_id"] for row in rows] == ["run0", "run1", "run2"]
    assert rows[-1]["computed_at"] == T0 + timedelta(hours=2)
    assert rows[-1]["computed_at"].tzinfo is not None
    assert rows[0]["contacts_total"] == 100 and rows[0]["tasks_total"] is None
    assert [row["run_id"] for row in read_rows(sqlite_hook, METRICS_TABLE, limit=2)] == ["run1", "run2"]


def test_timestamps_are_stored_as_utc(sqlite_hook: SqliteHook) -> None:
    berlin = timezone(timedelta(hours=1))
    append_row(
        sqlite_hook, AUDIT_TABLE, {"run_id": "a", "finished_at": datetime(2026, 1, 1, 13, tzinfo=berlin)}
    )
    stored = sqlite_hook.get_first("SELECT finished_at FROM contacts_sync_audit")
    assert stored[0] == "2026-01-01 12:00:00.000000"
    assert read_rows(sqlite_hook, AUDIT_TABLE)[0]["finished_at"] == datetime(
        2026, 1, 1, 12, tzinfo=timezone.utc
    )


def test_unknown_columns_and_unsafe_names_are_refused(sqlite_hook: SqliteHook) -> None:
    with pytest.raises(ValueError, match="Not columns"):
        append_row(sqlite_hook, METRICS_TABLE, {"nope": 1})
    for bad in ("x; DROP TABLE y", "a.b.c", "1abc", "a b"):
        with pytest.raises(ValueError, match="Not a plain table name"):
            check_table_name(bad)
    assert check_table_name("reporting.contacts_metrics") == "reporting.contacts_metrics"
    assert create_table_sql(METRICS_TABLE, "custom").startswith("CREATE TABLE IF NOT EXISTS custom (dag_id ")


def test_custom_table_name(sqlite_hook: SqliteHook) -> None:
    append_row(sqlite_hook, METRICS_TABLE, _metrics_row(1), table="metrics_other")
    assert read_rows(sqlite_hook, METRICS_TABLE, table="metrics_other")[0]["run_id"] == "run1"
    assert read_rows(sqlite_hook, METRICS_TABLE) == []


def test_missing_connection_falls_back_to_a_sqlite_file(tmp_path: Path) -> None:
    with pytest.raises(AirflowNotFoundException):
        get_sql_hook("contacts_reporting_undefined")
    path = tmp_path / "sub" / "fallback.db"
    hook = get_sql_hook("contacts_reporting_undefined", default_sqlite_path=path)
    append_row(hook, METRICS_TABLE, _metrics_row(3))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT run_id, contacts_total FROM contacts_metrics").fetchall() == [("run3", 103)]


def test_non_sql_connection_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_NOT_SQL", json.dumps({"conn_type": "smtp", "host": "example.invalid"}))
    with pytest.raises(TypeError, match="not a SQL connection"):
        get_sql_hook("not_sql")

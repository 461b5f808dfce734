"""
The reporting path against a real PostgreSQL (127.0.0.1:5432, database ``test``, trust auth): the Airflow
connection resolves to ``PostgresHook``, the portable SQL creates the tables, rows go in and come back with
the same values and UTC timestamps, and the dashboard renders from them. Each run uses its own schema and
drops it afterwards. Skipped, with the reason, when no server can be had.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_contacts.hooks.sql import get_sql_hook
from airflow_provider_contacts.reporting.dashboard import build_dashboard
from airflow_provider_contacts.reporting.tables import AUDIT_TABLE, METRICS_TABLE, append_row, read_rows

pytestmark = pytest.mark.postgres

PG = {"host": "127.0.0.1", "port": 5432, "dbname": "test"}
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def _connect_error(user: str) -> str | None:
    import psycopg2

    try:
        psycopg2.connect(user=user, connect_timeout=3, **PG).close()
    except psycopg2.Error as error:
        return str(error).strip()
    return None


def _start_server() -> None:
    clusters = Path("/etc/postgresql")
    if not shutil.which("pg_ctlcluster") or not clusters.is_dir():
        return
    for version in sorted(p.name for p in clusters.iterdir()):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            capture_output=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(scope="module")
def pg_user() -> str:
    errors = {user: _connect_error(user) for user in ("postgres", "root")}
    if all(errors.values()):
        _start_server()
        errors = {user: _connect_error(user) for user in ("postgres", "root")}
    for user, error in errors.items():
        if error is None:
            return user
    pytest.skip(f"PostgreSQL at 127.0.0.1:5432/test unavailable even after pg_ctlcluster start: {errors}")


@pytest.fixture
def pg_hook(pg_user: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[object, str]]:
    monkeypatch.setenv(
        "AIRFLOW_CONN_REPORTING_PG",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": PG["host"],
                "port": PG["port"],
                "schema": PG["dbname"],
                "login": pg_user,
            }
        ),
    )
    hook = get_sql_hook("reporting_pg")
    schema = f"contacts_test_{uuid.uuid4().hex[:10]}"
    hook.run(f"CREATE SCHEMA {schema}")
    try:
        yield hook, schema
    finally:
        hook.run(f"DROP SCHEMA {schema} CASCADE")


def test_hook_is_postgres(pg_hook: tuple[object, str]) -> None:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    assert isinstance(pg_hook[0], PostgresHook)


def test_metrics_and_audit_round_trip(pg_hook: tuple[object, str], tmp_path: Path) -> None:
    hook, schema = pg_hook
    metrics_table, audit_table = f"{schema}.contacts_metrics", f"{schema}.contacts_sync_audit"
    for i in (1, 0):
        append_row(
            hook,
            METRICS_TABLE,
            {
                "dag_id": "contacts_dashboard",
                "run_id": f"r{i}",
                "computed_at": T0 + timedelta(minutes=15 * i),
                "interval_start": T0,
                "interval_end": T0 + timedelta(minutes=15 * i),
                "contacts_total": 40 + i,
                "contacts_new": i,
                "contacts_updated": 2,
                "tasks_open": 5,
                "top_tags": json.dumps({"vip": 4 + i}),
                "last_sync_at": datetime(2026, 11, 22, 13, 0, tzinfo=timezone(timedelta(hours=1))),
            },
            table=metrics_table,
        )
    append_row(
        hook,
        AUDIT_TABLE,
        {"run_id": "s1", "finished_at": T0, "duration_s": 1.5, "failed": 0, "status": "success"},
        table=audit_table,
    )

    rows = read_rows(hook, METRICS_TABLE, table=metrics_table)
    assert [row["run_id"] for row in rows] == ["r0", "r1"]
    assert rows[1]["contacts_total"] == 41 and rows[1]["last_sync_at"] == T0
    assert rows[1]["computed_at"] == T0 + timedelta(minutes=15)
    audit = read_rows(hook, AUDIT_TABLE, table=audit_table)
    assert audit[0]["duration_s"] == 1.5 and audit[0]["status"] == "success"
    # the tables really live in the test schema, not in public
    found = hook.get_records(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (schema,)
    )
    assert [name for (name,) in found] == ["contacts_metrics", "contacts_sync_audit"]

    paths = build_dashboard(rows, tmp_path)
    assert Path(paths["chart"]).stat().st_size > 10_000
    assert "<th>Contacts</th><td>41</td><td class='delta'>+1</td>" in Path(paths["page"]).read_text()

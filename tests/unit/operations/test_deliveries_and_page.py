"""The runs' reports and the page that shows them (escaped); the delivery log's readers are the webhook store's."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from airflow_provider_contacts.operations.page import render
from airflow_provider_contacts.operations.runs import _audit_run, last_runs

NOW = datetime(2027, 1, 1, 0, 30, tzinfo=timezone.utc)  # just after a year end


def test_audit_rows_name_their_connection_through_the_push_report():
    details = {"push": {"total": 5, "failed": 1, "conn_id": "c", "location_id": "locA"}}
    row = {
        "dag_id": "contacts_sync",
        "run_id": "r1",
        "finished_at": "2026-12-31 23:59:00",
        "status": "success",
    }
    (run,) = _audit_run(
        "contacts_sync_audit", {**row, "records_in": 5, "failed": 1, "details": json.dumps(details)}
    )
    assert (run["conn_id"], run["location_id"], run["records"], run["failures"]) == ("c", "locA", 5, 1)
    assert run["finished_at"] == "2026-12-31T23:59:00+00:00"
    assert _audit_run("contacts_sync_audit", {**row, "details": "not json"}) == []
    older = {**run, "run_id": "r0", "finished_at": "2026-12-30T00:00:00+00:00"}
    assert last_runs([run, older, {**run, "conn_id": "other"}], "c") == [run]


def test_the_page_escapes_what_a_sender_or_a_user_chose():
    hostile = '<script>alert("x")</script>'
    status = {
        "generated_at": NOW.isoformat(),
        "errors": {},
        "connections": [
            {
                "conn_id": "c<b>",
                "auth": {"type": "oauth", "location_id": hostile, "token": {"stored": False}},
                "rate_budget": {"source": "this process", "window_s": 10.0, "locations": []},
                "runs": [],
                "webhooks": {
                    "last_hour": {"refused:bad_signature": 1},
                    "last_day": {"refused:bad_signature": 1},
                    "recent": [{"outcome": "refused", "reason": "bad_signature", "event_type": hostile}],
                },
                "watchers": [],
            }
        ],
    }
    page = render(status)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page and "c&lt;b&gt;" in page
    assert "no token stored" in page and "refused:bad_signature" in page


def test_the_audit_tables_of_the_reporting_connection_are_read(tmp_path: Path, monkeypatch):
    from airflow.providers.sqlite.hooks.sqlite import SqliteHook

    from airflow_provider_contacts.operations.runs import from_audit
    from airflow_provider_contacts.reporting.tables import AGENCY_AUDIT_TABLE, AUDIT_TABLE, append_row

    monkeypatch.setenv(
        "AIRFLOW_CONN_OPS_REPORTING", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "r.db")})
    )
    hook = SqliteHook(sqlite_conn_id="ops_reporting")
    push = {"total": 4, "failed": 0, "conn_id": "agency", "location_id": "locB"}
    row = {
        "dag_id": "d",
        "run_id": "r",
        "finished_at": NOW,
        "status": "success",
        "records_in": 4,
        "failed": 0,
    }
    append_row(
        hook, AGENCY_AUDIT_TABLE, {**row, "location_id": "locB", "details": json.dumps({"push": push})}
    )
    # A row from before reports named their connection is not anyone's.
    append_row(hook, AUDIT_TABLE, {**row, "details": json.dumps({"push": {"total": 1}})})
    (run,) = from_audit("ops_reporting")
    assert (run["conn_id"], run["location_id"], run["source"]) == (
        "agency",
        "locB",
        "audit contacts_agency_sync_audit",
    )
    assert from_audit(None) == []


def test_a_reporting_database_without_audit_tables_has_no_audited_run(tmp_path: Path, monkeypatch):
    from airflow_provider_contacts.operations.runs import from_audit

    monkeypatch.setenv(
        "AIRFLOW_CONN_OPS_EMPTY", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "e.db")})
    )
    assert from_audit("ops_empty") == []

"""
The reconcile, events and token-refresh DAGs with ``dag.test()`` against a real sandbox server: each does
to the server what its docstring says, and no token reaches XCom.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from tests.dags.helpers import xcom_value as _xcom

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


def test_reconcile_fixes_drift_both_ways(world: dict[str, Any], run_sync: Any) -> None:
    from airflow.utils.state import DagRunState
    from dag_support import phone_system
    from dag_support.settings import reporting_hook

    from airflow_provider_contacts.hooks.contacts import ContactsHook
    from airflow_provider_contacts.reporting.tables import AUDIT_TABLE, read_rows

    sync, _, _ = run_sync()
    assert sync.state == DagRunState.SUCCESS
    hook, source = ContactsHook(), phone_system.source_hook()
    rows = {r["source_id"]: r for r in phone_system.all_contacts(source)}
    customer, stale, edited = (rows[f"ps-{i:04d}"] for i in (0, 3, 4))
    # Drift: a customer lost its tag on the Contacts side; a phone number changed there after the phone
    # system's last edit; a name changed in the phone system after the Contacts side's last edit.
    hook.remove_tags(customer["contact_id"], ["customer"])
    hook.update_contact(stale["contact_id"], {"phone": "+15557770003"})
    source.run(
        "UPDATE phone_contacts SET first_name = ?, updated_at = ? WHERE source_id = ?",
        parameters=["Renamed", datetime.now(timezone.utc).isoformat(sep=" ")[:26], edited["source_id"]],
    )
    untouched = {c["id"]: c for c in world["sb"].all_contacts()}

    dry = world["bag"].dags["contacts_reconcile"].test(run_conf={"dry_run": True})
    assert dry.state == DagRunState.SUCCESS
    assert {c["id"]: c for c in world["sb"].all_contacts()} == untouched, "a dry run writes nothing"
    counts = _xcom(dry, "report")["counts"]
    assert counts["lifecycle_tags"] >= 1 and counts["fields_to_api"] == 1 and counts["fields_to_source"] >= 1
    assert counts["note_missing"] == 8 and counts["task_missing"] == 4  # the phone system's notes, follow-ups

    # (explicit conf: in-process ``dag.test()`` keeps the previous run's params on the DAG object)
    fix = world["bag"].dags["contacts_reconcile"].test(run_conf={"dry_run": False})
    assert fix.state == DagRunState.SUCCESS
    assert "customer" in hook.get_contact(customer["contact_id"])["tags"]
    assert hook.get_contact(edited["contact_id"])["firstName"] == "Renamed"
    rows = {r["source_id"]: r for r in phone_system.all_contacts(source)}
    assert rows[stale["source_id"]]["phone"] == "+15557770003"
    assert {n["body"] for n in hook.get_notes(customer["contact_id"])} >= {"Call 0: asked about pricing"}
    assert "Send quote #0" in {t["title"] for t in hook.get_tasks(customer["contact_id"])}
    api_ids = {c["id"] for c in world["sb"].all_contacts()}
    assert api_ids <= {r["contact_id"] for r in rows.values()}, "every contact is in the phone system now"

    again = world["bag"].dags["contacts_reconcile"].test(run_conf={"dry_run": True})
    left = _xcom(again, "reconcile_contacts")
    # What remains: the phone-system row with an invalid e-mail, which the API cannot take, and contacts
    # imported by the last run that carry both lifecycle tags (the rules apply from the run after import).
    assert left["counts"]["missing_in_api"] == 1
    assert set(left["counts"]) <= {"missing_in_api", "lifecycle_tags"}
    assert all(d.endswith("-['lead']") for d in left["details"] if d.startswith("lifecycle_tags"))
    assert _xcom(again, "reconcile_notes_and_tasks")["counts"] == {}
    statuses = [row["status"] for row in read_rows(reporting_hook(), AUDIT_TABLE)]
    assert statuses == ["success", "dry_run", "reconciled", "dry_run"]


def test_events_onboards_the_given_contacts(world: dict[str, Any]) -> None:
    from airflow.utils.state import DagRunState

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    hook = ContactsHook()
    ids = [c["id"] for c in world["sb"].all_contacts()[:2]]
    run = world["bag"].dags["contacts_events"].test(run_conf={"contact_ids": ids})
    assert run.state == DagRunState.SUCCESS
    for contact_id in ids:
        assert {"new", "onboarding"} <= set(hook.get_contact(contact_id)["tags"])
        assert [t["title"] for t in hook.get_tasks(contact_id)].count("Onboarding call") == 1
        assert any(n["body"].startswith("Onboarding started by Airflow") for n in hook.get_notes(contact_id))
    # The same contacts again (the poller reporting what a webhook already did): nothing is made twice.
    again = world["bag"].dags["contacts_events"].test(run_conf={"contact_ids": ids})
    assert again.state == DagRunState.SUCCESS
    for contact_id in ids:
        assert [t["title"] for t in hook.get_tasks(contact_id)].count("Onboarding call") == 1


def test_token_refresh_rotates_and_keeps_tokens_out_of_xcom(world: dict[str, Any], tmp_path: Any) -> None:
    from airflow.utils.state import DagRunState

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    ContactsHook().get_contact(world["sb"].all_contacts()[0]["id"])  # first use: the first refresh
    token_file = tmp_path / "tokens.json"
    first = json.loads(token_file.read_text())
    refreshes = world["sb"].stats()["token_refreshes"]

    run = world["bag"].dags["contacts_token_refresh"].test()
    assert run.state == DagRunState.SUCCESS
    rotated = json.loads(token_file.read_text())
    assert rotated["refresh_token"] != first["refresh_token"]
    assert world["sb"].stats()["token_refreshes"] == refreshes + 1
    summary = _xcom(run, "refresh_token")
    text = json.dumps(summary)
    assert rotated["refresh_token"] not in text and rotated["access_token"] not in text
    assert summary["refresh_token_fingerprint"] and summary["expires_at"]

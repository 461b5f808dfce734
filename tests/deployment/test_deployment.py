"""
The provider on a real deployment (CeleryExecutor, PostgreSQL, Redis, triggerer, two workers), issue 10.

The scenarios run in file order on one deployment (the ``tier`` fixture); the last one checks the whole run:
no failed task instance, no rejected refresh token, no orphan token Variable, one audit row per sync run.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import Any

import pytest

from .conftest import DAG_IDS, Tier
from .harness import wait_until

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(600)]

TOKEN_VARIABLE = "contacts_token__contacts_default"
AGENCY_TOKEN_VARIABLE = "contacts_token__contacts_agency"
ONBOARDING_TITLE = "Onboarding call"


def audit_rows(tier: Tier) -> dict[str, dict[str, Any]]:
    """The sync's audit rows by run id, read from the reporting database (SQLite in the demo directory)."""
    path = tier.deployment.demo_dir / "reporting.db"
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        try:
            rows = db.execute("SELECT * FROM contacts_sync_audit").fetchall()
        except sqlite3.OperationalError:
            return {}
    return {row["run_id"]: dict(row) for row in rows}


def phone_system_contact_ids(tier: Tier) -> set[str]:
    """The contact ids the example phone system (SQLite in the demo directory) knows."""
    with sqlite3.connect(tier.deployment.demo_dir / "phone_system.db") as db:
        return {contact_id for (contact_id,) in db.execute("SELECT contact_id FROM phone_contacts")}


def create_contacts(tier: Tier, label: str, count: int) -> list[str]:
    writer = tier.writer()
    stamp = int(time.time() * 1000)
    return [
        writer.create_contact({"firstName": f"{label}{i}", "email": f"{label}-{i}-{stamp}@tier.test"})["id"]
        for i in range(count)
    ]


def searches(tier: Tier) -> int:
    return int(tier.sandbox.stats()["requests_by_route"].get("POST /contacts/search", 0))


def onboarding_tasks(tier: Tier, contact_id: str) -> int:
    return sum(1 for t in tier.writer().get_tasks(contact_id) if t.get("title") == ONBOARDING_TITLE)


def token_variables(tier: Tier) -> set[str]:
    return {k for k in tier.api.variable_keys() if k.startswith("contacts_token__")}


def expected_token_variables(tier: Tier) -> set[str]:
    """The default connection's chain, the agency's company chain and its installed locations' tokens."""
    locations = tier.sandbox.installed_location_ids
    return {TOKEN_VARIABLE, AGENCY_TOKEN_VARIABLE} | {
        f"{AGENCY_TOKEN_VARIABLE}__location__{location}" for location in locations
    }


def wait_for_contacts_events_to_settle(tier: Tier) -> None:
    wait_until(
        lambda: all(r["state"] in ("success", "failed") for r in tier.api.runs("contacts_events")),
        120,
        "every contacts_events run to finish",
    )


def test_a_scheduled_sync_runs_and_writes_its_audit_row(tier: Tier) -> None:
    run = wait_until(
        lambda: next((r for r in tier.api.runs("contacts_sync") if r["run_type"] == "scheduled"), None),
        60,
        "the scheduler to create contacts_sync's scheduled run",
    )
    assert tier.api.wait_run("contacts_sync", run["dag_run_id"]) == "success"
    row = audit_rows(tier)[run["dag_run_id"]]
    assert row["status"] == "success"
    assert row["interval_end"] is not None and row["interval_start"] < row["interval_end"]


def test_manual_syncs_with_no_conf_and_with_since(tier: Tier) -> None:
    # Changed on the Contacts side (updates: the events DAG only reacts to new contacts): a sync pulls them.
    writer = tier.writer()
    made = [c["id"] for c in islice(writer.search_contacts(page_limit=3), 3)]
    for contact_id in made:
        writer.update_contact(contact_id, {"lastName": "Changed by the tier"})
    plain = tier.api.trigger("contacts_sync")
    assert tier.api.wait_run("contacts_sync", plain) == "success"
    row = audit_rows(tier)[plain]
    assert row["status"] == "success"
    # From where the last successful sync before it stopped (a scheduled run may land meanwhile: runs are
    # one at a time, so "before" is by finishing time).
    done = [
        other["interval_end"]
        for other in audit_rows(tier).values()
        if other["status"] == "success"
        and other["run_id"] != plain
        and other["finished_at"] <= row["started_at"]
    ]
    assert row["interval_start"] == max(done)

    # Pulled into the phone system by this run, or by a scheduled one whose window held the updates.
    assert phone_system_contact_ids(tier) >= set(made)

    since = (datetime.now(timezone.utc) - timedelta(hours=2)).replace(microsecond=0)
    caught_up = tier.api.trigger("contacts_sync", {"since": since.isoformat()})
    assert tier.api.wait_run("contacts_sync", caught_up) == "success"
    row = audit_rows(tier)[caught_up]
    assert row["status"] == "success"
    assert (
        datetime.fromisoformat(str(row["interval_start"]).replace(" ", "T")).replace(tzinfo=timezone.utc)
        == since
    )


def not_onboarded_contacts(tier: Tier, count: int) -> list[str]:
    """Contacts of the sandbox's seed (added before the tier: never new to the watcher), not onboarded yet."""
    before_the_tier = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    seeded = (
        c["id"]
        for c in tier.writer().search_contacts(page_limit=50)
        if str(c.get("dateAdded")) < before_the_tier and "onboarding" not in (c.get("tags") or [])
    )
    found = list(islice(seeded, count))
    assert len(found) == count, "the sandbox's seed has too few contacts"
    return found


def test_an_event_that_arrives_while_a_run_is_active_is_not_held_back(tier: Tier) -> None:
    """
    Airflow 3.3 leaves an asset event that arrives while a run of a ``max_active_runs=1`` DAG is active out
    of the next run's triggering events whenever its asset is already queued, and queues no run for it
    (apache/airflow#56050): without ``held_back_asset_events`` the second contact waits for the DAG's next
    event, here forever.
    """
    wait_for_contacts_events_to_settle(tier)
    active, first, second = not_onboarded_contacts(tier, 3)
    run_id = tier.api.trigger("contacts_events", {"contact_ids": [active]})
    wait_until(
        lambda: tier.api.run_state("contacts_events", run_id) == "running", 60, "the manual run to start"
    )
    for contact_id in (first, second):  # the first queues the asset, the second finds it queued
        tier.api.record_asset_event("contacts_created", {"payload": {"contact_ids": [contact_id]}})
    assert tier.api.run_state("contacts_events", run_id) == "running", "the events must arrive during the run"
    assert tier.api.wait_run("contacts_events", run_id) == "success"
    wait_until(lambda: onboarding_tasks(tier, first) and onboarding_tasks(tier, second), 120, "both contacts")
    wait_for_contacts_events_to_settle(tier)
    assert {c: onboarding_tasks(tier, c) for c in (active, first, second)} == dict.fromkeys(
        (active, first, second), 1
    )


def wait_for_the_watcher_to_poll(tier: Tier) -> None:
    """
    Wait until the asset watcher searches (only it searches while no DAG run is active). A watcher that has
    no watermark yet starts from the moment the triggerer first runs it (about 30 s after its start here),
    so contacts created before that are not new to it.
    """
    wait_until(
        lambda: (
            not any(r["state"] in ("queued", "running") for dag_id in DAG_IDS for r in tier.api.runs(dag_id))
        ),
        240,
        "the runs before the watcher's scenario to finish",
    )
    polls = searches(tier)
    wait_until(lambda: searches(tier) >= polls + 2, 120, "the triggerer's watcher to poll")


def test_new_contacts_are_onboarded_once_also_across_a_triggerer_restart(tier: Tier) -> None:
    wait_for_the_watcher_to_poll(tier)
    first = create_contacts(tier, "batch-a", 3)
    wait_until(lambda: all(onboarding_tasks(tier, c) for c in first), 180, "batch a to be onboarded")
    # Created while the triggerer is down: the restarted watcher resumes from the watermark it saved in the
    # asset's state store, so it still reports them, once.
    tier.deployment.stop_process("triggerer")
    second = create_contacts(tier, "batch-b", 3)
    tier.deployment.start("triggerer", "triggerer")
    wait_until(lambda: all(onboarding_tasks(tier, c) for c in second), 180, "batch b to be onboarded")
    wait_for_contacts_events_to_settle(tier)
    assert {c: onboarding_tasks(tier, c) for c in first + second} == dict.fromkeys(first + second, 1)


def test_webhooks_start_contacts_events_and_the_poller_catches_a_refused_delivery(tier: Tier) -> None:
    """The sandbox delivers signed webhooks to the receiver on the deployment's API server (issue 13)."""
    from airflow_provider_contacts.assets import contacts_asset

    webhook_asset = contacts_asset(tier.sandbox.location_id, "contacts")
    tier.sandbox.set_webhooks(
        urls=[f"{tier.deployment.api_url}/contacts-webhooks/contacts_default"], fault=""
    )
    try:
        hooked = create_contacts(tier, "hooked", 3)

        def recorded_creations() -> set[str]:
            return {
                extra.get("contact_id")
                for extra in tier.deployment.asset_event_extras(webhook_asset.uri)
                if extra.get("type") == "ContactCreate"
            }

        wait_until(lambda: set(hooked) <= recorded_creations(), 60, "the webhooks to be recorded")
        wait_until(lambda: all(onboarding_tasks(tier, c) for c in hooked), 240, "the webhooked contacts")

        # A delivery whose signature does not verify is refused and records nothing; the poller, the safety
        # net, still onboards that contact.
        tier.sandbox.set_webhooks(fault="tampered")
        refused_before = tier.sandbox.webhooks()["statuses"].get("401", 0)
        [tampered] = create_contacts(tier, "tampered", 1)
        wait_until(
            lambda: tier.sandbox.webhooks()["statuses"].get("401", 0) > refused_before,
            60,
            "the tampered delivery to be refused",
        )
        wait_until(lambda: onboarding_tasks(tier, tampered), 240, "the poller to onboard the lost contact")
        assert tampered not in recorded_creations()
    finally:
        tier.sandbox.set_webhooks(urls=[], fault="")
    wait_for_contacts_events_to_settle(tier)
    assert {c: onboarding_tasks(tier, c) for c in [*hooked, tampered]} == dict.fromkeys(
        [*hooked, tampered], 1
    )


def test_a_deferrable_sensor_on_the_oauth_connection(tier: Tier) -> None:
    run_id = tier.api.trigger("contacts_deferred_sensor")

    def deferred() -> bool:
        states = {
            t["task_id"]: t["state"] for t in tier.api.task_instances("contacts_deferred_sensor", run_id)
        }
        return states.get("wait_for_new_contact") == "deferred"

    wait_until(deferred, 90, "the sensor to defer")
    [made] = create_contacts(tier, "sensed", 1)
    assert tier.api.wait_run("contacts_deferred_sensor", run_id) == "success"
    read_back = tier.api.call(
        "GET",
        f"/dags/contacts_deferred_sensor/dagRuns/{run_id}/taskInstances/read_back/xcomEntries/return_value",
    )["value"]
    assert made in str(read_back)


def test_the_token_refresh_dag_and_the_dashboard(tier: Tier) -> None:
    run_id = tier.api.trigger("contacts_token_refresh")
    assert tier.api.wait_run("contacts_token_refresh", run_id) == "success"
    dashboards = wait_until(
        lambda: [r for r in tier.api.runs("contacts_dashboard") if r["state"] in ("success", "failed")],
        90,
        "a contacts_dashboard run scheduled by the sync's asset",
    )
    assert all(r["state"] == "success" for r in dashboards)
    assert (tier.deployment.demo_dir / "dashboard" / "index.html").exists()


def test_the_agency_sync_maps_over_every_installed_location(tier: Tier) -> None:
    """``contacts_agency_sync`` over the sandbox company's 3 locations, on the agency connection (issue 14)."""
    locations = set(tier.sandbox.installed_location_ids)
    since = (datetime.now(timezone.utc) - timedelta(hours=2)).replace(microsecond=0)
    manual = tier.api.trigger("contacts_agency_sync", {"since": since.isoformat()})
    assert tier.api.wait_run("contacts_agency_sync", manual) == "success"
    runs = tier.api.runs("contacts_agency_sync")
    assert {r["run_type"] for r in runs} == {"scheduled", "manual"}, "the unpaused DAG's run and this one"
    for run in runs:
        assert tier.api.wait_run("contacts_agency_sync", run["dag_run_id"]) == "success"
        mapped = [
            t
            for t in tier.api.task_instances("contacts_agency_sync", run["dag_run_id"])
            if t["task_id"].startswith("per_location.")
        ]
        assert len(mapped) == 3 * len(locations) and {t["state"] for t in mapped} == {"success"}
    with sqlite3.connect(tier.deployment.demo_dir / "reporting.db") as db:
        rows = db.execute(
            "SELECT location_id, status, records_in FROM contacts_agency_sync_audit WHERE run_id = ?",
            (manual,),
        ).fetchall()
    assert sorted(location for location, _, _ in rows) == sorted(locations)
    assert {status for _, status, _ in rows} == {"success"}
    assert len({records for _, _, records in rows}) == 1, "every location got the same directory"
    # Each location's token was minted by the runs themselves and kept in its own Variable, which every
    # worker shares (the sandbox's 30 s tokens expire between the two runs, so each run may mint again).
    assert set(tier.sandbox.stats()["location_tokens_minted"]) == locations
    assert {f"{AGENCY_TOKEN_VARIABLE}__location__{location}" for location in locations} <= token_variables(
        tier
    )


def test_the_rest_connection_test_then_more_runs(tier: Tier) -> None:
    before = tier.sandbox.stats()
    answer = tier.api.test_connection("contacts_default")
    assert answer["status"] is True, answer
    assert "Not checked: the refresh token" in answer["message"]
    after = tier.sandbox.stats()
    assert after["rejected_refresh_tokens"] == before["rejected_refresh_tokens"]
    assert token_variables(tier) <= expected_token_variables(tier)
    runs = [("contacts_token_refresh", tier.api.trigger("contacts_token_refresh"))]
    runs.append(("contacts_sync", tier.api.trigger("contacts_sync")))
    assert {dag_id: tier.api.wait_run(dag_id, run_id) for dag_id, run_id in runs} == {
        "contacts_token_refresh": "success",
        "contacts_sync": "success",
    }


def test_the_operations_view_shows_the_numbers_of_this_run(tier: Tier) -> None:
    """``GET /contacts-ops/api/status`` on the deployment's API server (issue 26) against what the run did."""
    from airflow_provider_contacts.operations.status import figures

    answer = tier.api.session.get(f"{tier.deployment.api_url}/contacts-ops/api/status", timeout=60)
    assert answer.status_code == 200, answer.text[:500]
    status = answer.json()
    default = figures(status, "contacts_default")
    # 30 s access tokens: the run refreshed many times, and the sandbox refused no refresh token.
    assert default["refreshes_today"] >= 2 and default["refused_today"] == 0, default
    location = tier.sandbox.location_id
    sync_states = default["syncs"][location]
    assert sync_states and set(sync_states.values()) == {"success"}, sync_states
    # The webhook scenario: three recorded creations (and more events), one tampered delivery refused.
    assert default["webhooks_day"].get("recorded", 0) >= 3, default["webhooks_day"]
    assert default["webhooks_day"].get("refused:bad_signature", 0) >= 1, default["webhooks_day"]
    assert default["requests_today"][location] > 0, default["requests_today"]
    agency = figures(status, "contacts_agency")
    assert agency["refused_today"] == 0, agency
    synced = {loc for loc, states in agency["syncs"].items() if set(states.values()) == {"success"}}
    assert set(tier.sandbox.installed_location_ids) <= synced, agency["syncs"]
    stored = json.loads(tier.api.call("GET", f"/variables/{TOKEN_VARIABLE}")["value"])
    secrets = [stored["access_token"], stored["refresh_token"], tier.sandbox.connection["password"]]
    assert not [secret for secret in secrets if secret and secret in answer.text]


def test_the_whole_run(tier: Tier) -> None:
    assert tier.api.failed_task_instances() == []
    # The webhook receiver, the operations view and every REST call of the tier answered without a server error.
    assert tier.deployment.server_errors() == []
    stats = tier.sandbox.stats()
    assert stats["rejected_refresh_tokens"] == 0, stats
    assert stats["rate_limit_rejections"] == 0, stats  # every process spends one budget (rate_limit_backend)
    assert stats["token_refreshes"] >= 2, stats
    assert TOKEN_VARIABLE in token_variables(tier) <= expected_token_variables(tier)
    audits = audit_rows(tier)
    syncs = tier.api.runs("contacts_sync")
    assert {r["dag_run_id"] for r in syncs} == set(audits)
    assert all(audits[r["dag_run_id"]]["status"] == "success" for r in syncs)

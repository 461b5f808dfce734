"""
``contacts_agency_sync`` end to end with ``dag.test()`` against a sandbox whose company has the app on 3
locations: an agency connection, the run fetching its own tokens; every mapped task succeeds and writes one
audit row per location; then a run with one suspended location fails that location alone.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]
EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture
def agency_world(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SandboxHandle, Any, Path]]:
    """A sandbox process with 3 installed locations, its agency connection, and the parsed DAG."""
    from airflow.dag_processing.dagbag import BundleDagBag

    monkeypatch.setenv("CONTACTS_DEMO_DIR", str(tmp_path / "demo"))
    with running_sandbox(
        subprocess_mode=True, seed=8, random_seed=9, locations=3, rate_limit=1000, rate_interval=1.0
    ) as sb:
        agency = sb.agency_connection()
        agency["extra"]["token_file"] = str(tmp_path / "agency-tokens.json")
        monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_AGENCY", json.dumps(agency))
        monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", sb.conn_env())
        monkeypatch.setattr(sys, "path", list(sys.path))
        bag = BundleDagBag(dag_folder=str(EXAMPLE_DAGS), bundle_path=EXAMPLE_DAGS, bundle_name="example_dags")
        assert bag.import_errors == {}
        yield sb, bag.dags["contacts_agency_sync"], tmp_path


def _instances(run: Any) -> dict[tuple[str, int], tuple[str, int]]:
    """Each task instance of the run: its state and its try number."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(
                TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state, TaskInstance.try_number
            ).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
        ).all()
    return {(task_id, index): (str(state), tries) for task_id, index, state, tries in rows}


def _states(run: Any) -> dict[tuple[str, int], str]:
    return {key: state for key, (state, _) in _instances(run).items()}


def test_agency_sync_maps_over_every_location(agency_world: tuple[SandboxHandle, Any, Path]) -> None:
    from airflow.utils.state import DagRunState
    from dag_support import phone_system
    from dag_support.settings import reporting_hook

    from airflow_provider_contacts.hooks.contacts import ContactsHook
    from airflow_provider_contacts.reporting.tables import AGENCY_AUDIT_TABLE, METRICS_TABLE, read_rows
    from airflow_provider_contacts.transport import clear_transports

    sb, dag, tmp_path = agency_world
    locations = sb.installed_location_ids
    before = datetime.now(timezone.utc)
    phone_system.simulate_activity(phone_system.source_hook(), ContactsHook(), before, new_leads=4)
    changed = phone_system.changed_contacts(
        phone_system.source_hook(), before - timedelta(seconds=1), before + timedelta(hours=2)
    )
    emails = {str(row["email"]).lower() for row in changed if row.get("email") and "@" in str(row["email"])}
    assert emails

    def run(conf: dict[str, Any]) -> Any:
        now = datetime.now(timezone.utc)
        slot_end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return dag.test(logical_date=slot_end, run_conf=conf)

    first = run({"since": (before - timedelta(seconds=1)).isoformat()})
    assert first.state == DagRunState.SUCCESS
    states = _states(first)
    for task_id in ("per_location.push", "per_location.metrics", "per_location.audit"):
        assert [states[(task_id, i)] for i in range(3)] == ["success"] * 3
    for location in locations:
        pushed = {
            c.get("email") for c in sb.all_contacts(location) if "agency-directory" in (c.get("tags") or [])
        }
        assert emails <= pushed, location
    audit = read_rows(reporting_hook(), AGENCY_AUDIT_TABLE)
    assert sorted(row["location_id"] for row in audit) == sorted(locations)
    assert {row["status"] for row in audit} == {"success"}
    metrics = read_rows(reporting_hook(), METRICS_TABLE)
    assert sorted(row["location_id"] for row in metrics) == sorted(locations)
    assert sb.stats()["location_tokens_minted"] == dict.fromkeys(locations, 1)

    # A location whose token is refused fails alone; its audit row says so. (Its token of the first run is
    # dropped from its own file, so that the run must mint one.)
    assert {p.name for p in tmp_path.glob("agency-tokens*.json")} == {
        "agency-tokens.json",
        *(f"agency-tokens.location-{location}.json" for location in locations),
    }
    (tmp_path / f"agency-tokens.location-{locations[1]}.json").unlink()
    sb.suspend_locations(locations[1])
    clear_transports()  # every task of a real deployment is a new process: no token held in memory
    # The DAG's retries (two, a minute apart) still run, without their minutes: dag.test() waits them out.
    for task in dag.tasks:
        task.retry_delay = timedelta(0)
    second = run({"since": (before - timedelta(seconds=1)).isoformat()})
    assert second.state == DagRunState.FAILED
    states = _states(second)
    assert [states[("per_location.audit", i)] for i in range(3)] == ["success", "failed", "success"]
    assert _instances(second)[("per_location.push", 1)] == ("failed", 3), "the DAG's two retries ran"
    latest = [
        row for row in read_rows(reporting_hook(), AGENCY_AUDIT_TABLE) if row["run_id"] == second.run_id
    ]
    assert {row["location_id"]: row["status"] for row in latest} == {
        locations[0]: "success",
        locations[1]: "failed",
        locations[2]: "success",
    }

"""
``held_back_asset_events`` in a real task run (``dag.test()``: the Task SDK's in-process supervisor,
Airflow's execution API and metadata database) while a run made from one of the events is still queued:
Airflow 3.3.2's API server answers the listing with 500 then (apache/airflow#71360), and the run goes on
without those events.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

PROBE = "contacts_held_back_probe"


def probe_dag(asset_name: str, run_after: str, started: str, out: str) -> Any:
    """
    A DAG whose one task reads, through the task's real ``inlet_events``, the events an asset-triggered run
    made at ``run_after`` and started at ``started`` would find held back; it writes their extras to ``out``.
    """
    from airflow.sdk import DAG, Asset, task

    from airflow_provider_contacts.assets import held_back_asset_events

    asset = Asset(asset_name)
    with DAG(PROBE, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)) as dag:

        @task(inlets=[asset])
        def read(inlet_events: Any = None) -> None:
            run = SimpleNamespace(
                run_type="asset_triggered",
                run_after=datetime.fromisoformat(run_after),
                start_date=datetime.fromisoformat(started),
            )
            held = held_back_asset_events(inlet_events, run, [asset])
            Path(out).write_text(json.dumps([event.extra for event in held[asset]]))

        read()
    return dag


def record_event_made_into_a_queued_run(asset: Any, run_id: str) -> datetime:
    """An event on ``asset`` from which the scheduler made a run that has not started (``start_date`` NULL)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType
    from sqlalchemy import select

    now = datetime.now(timezone.utc)
    with create_session() as session:
        asset_id = session.scalar(select(AssetModel.id).where(AssetModel.uri == asset.uri))
        assert asset_id is not None, "dag.test() registers the DAG's inlets"
        queued = DagRun(
            dag_id=PROBE,
            run_id=run_id,
            run_type=DagRunType.ASSET_TRIGGERED,
            state=DagRunState.QUEUED,
            run_after=now,
            triggered_by=None,
        )
        event = AssetEvent(asset_id=asset_id, extra={"contact_id": run_id}, timestamp=now)
        event.created_dagruns.append(queued)
        session.add_all([queued, event])
    return now


def start(run_id: str) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(
            update(DagRun).where(DagRun.run_id == run_id).values(start_date=datetime.now(timezone.utc))
        )


def test_events_of_a_queued_run_are_skipped_then_read_once_it_started(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from airflow.sdk import Asset
    from airflow.utils.state import DagRunState

    from tests.unit.operators.dags import use_dag_bundle

    asset = Asset(f"{PROBE}_{tmp_path.name}")
    out = tmp_path / "held_back.json"
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    args = (asset.name, since.isoformat(), (since + timedelta(hours=1)).isoformat(), str(out))
    folder = use_dag_bundle(monkeypatch, tmp_path / "dags", name="contacts-held-back-tests")
    folder.mkdir()
    (folder / "probe.py").write_text(
        f"# airflow dag\nfrom {__name__} import probe_dag\n\ndag = probe_dag{args!r}\n"
    )

    def run() -> list[Any]:
        assert probe_dag(*args).test().state == DagRunState.SUCCESS
        return list(json.loads(out.read_text()))

    assert run() == [], "a first run registers the asset; nothing is held back yet"

    queued = f"queued_{tmp_path.name}"
    record_event_made_into_a_queued_run(asset, queued)
    with caplog.at_level("WARNING", logger="airflow_provider_contacts.assets"):
        assert run() == [], "the server could not list them: none read, and the run went on"
    assert any("apache/airflow#71360" in r.getMessage() for r in caplog.records), caplog.text

    start(queued)
    assert run() == [{"contact_id": queued}], "once that run started, the same listing works"

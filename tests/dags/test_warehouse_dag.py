"""
contacts_warehouse through ``dag.test()`` against a sandbox server process: a manual run with ``since`` loads
every contact and its tasks, notes and appointments into the reporting database (a SQLite file), with the
custom fields as columns. (Scheduled windows, reruns and deletions: ``tests/integration/warehouse``.)
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import running_sandbox
from tests.dags.helpers import xcom_value as _xcom

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]
EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture
def warehouse_world(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    from airflow.dag_processing.dagbag import BundleDagBag

    monkeypatch.setenv("CONTACTS_DEMO_DIR", str(tmp_path / "demo"))
    reporting = tmp_path / "reporting.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONTACTS_REPORTING", json.dumps({"conn_type": "sqlite", "host": str(reporting)})
    )
    with running_sandbox(
        seed=25, random_seed=5, rate_limit=1000, rate_interval=1.0, subprocess_mode=True
    ) as sb:
        connection = dict(sb.connection)
        connection["extra"] = {**connection["extra"], "token_file": str(tmp_path / "tokens.json")}
        monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", json.dumps(connection))
        monkeypatch.setattr(sys, "path", list(sys.path))
        bag = BundleDagBag(dag_folder=str(EXAMPLE_DAGS), bundle_path=EXAMPLE_DAGS, bundle_name="example_dags")
        assert bag.import_errors == {}
        yield {"sb": sb, "dag": bag.dags["contacts_warehouse"], "db": reporting}


def test_manual_run_with_since_loads_everything(warehouse_world: dict[str, Any]) -> None:
    from airflow.utils.state import DagRunState

    sb, dag = warehouse_world["sb"], warehouse_world["dag"]
    api_ids = {c["id"] for c in sb.all_contacts()}
    now = datetime.now(timezone.utc)
    slot = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)

    first = dag.test(logical_date=slot, run_conf={"since": "2020-01-01T00:00:00Z"})
    assert first.state == DagRunState.SUCCESS
    report = _xcom(first, "load_warehouse")
    assert report["merged"]["contacts"]["inserted"] == len(api_ids) and report["bad_record_count"] == 0
    with sqlite3.connect(warehouse_world["db"]) as db:
        assert {row[0] for row in db.execute("SELECT id FROM crm_contacts")} == api_ids
        tasks = db.execute("SELECT COUNT(*) FROM crm_contacts_tasks").fetchone()[0]
        columns = {row[1] for row in db.execute("PRAGMA table_info(crm_contacts)")}
    assert tasks == report["extracted"]["tasks"] > 0
    assert "cf_lifetime_value" in columns  # custom fields as columns by key

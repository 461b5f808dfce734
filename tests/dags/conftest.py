"""Fixtures for the DAG tests: a sandbox wired to the example DAGs, run in-process with ``dag.test()``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import running_sandbox

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture
def world(airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A sandbox, its connection in the environment, a fresh demo directory, and the parsed DAGs."""
    from airflow.dag_processing.dagbag import BundleDagBag

    monkeypatch.setenv("CONTACTS_DEMO_DIR", str(tmp_path / "demo"))
    with running_sandbox(seed=60, random_seed=7, rate_limit=1000, rate_interval=1.0) as sb:
        connection = dict(sb.connection)
        # A token file of this test's own, so no other test's tokens (or this one's) are ever mixed up.
        connection["extra"] = {**connection["extra"], "token_file": str(tmp_path / "tokens.json")}
        monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", json.dumps(connection))
        monkeypatch.setattr(sys, "path", list(sys.path))
        bag = BundleDagBag(dag_folder=str(EXAMPLE_DAGS), bundle_path=EXAMPLE_DAGS, bundle_name="example_dags")
        assert bag.import_errors == {}
        yield {"sb": sb, "bag": bag, "demo": tmp_path / "demo"}


@pytest.fixture
def run_sync(world: dict[str, Any]) -> Callable[[], tuple[Any, datetime, dict[str, int]]]:
    """
    A function that gives both sides a day of activity (``phone_system.simulate_activity``) and runs
    ``contacts_sync`` over it; it returns the run, when the activity began, and what it did.
    """
    from dag_support import phone_system

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    def run() -> tuple[Any, datetime, dict[str, int]]:
        before = datetime.now(timezone.utc)
        done = phone_system.simulate_activity(phone_system.source_hook(), ContactsHook(), before)
        # The run whose interval holds "now" (its end lies ahead), started by ``since`` just before the changes.
        after = datetime.now(timezone.utc)
        slot_start = after.replace(minute=after.minute - after.minute % 15, second=0, microsecond=0)
        conf = {"since": (before - timedelta(seconds=1)).isoformat()}
        sync = (
            world["bag"]
            .dags["contacts_sync"]
            .test(logical_date=slot_start + timedelta(minutes=15), run_conf=conf)
        )
        return sync, before, done

    return run

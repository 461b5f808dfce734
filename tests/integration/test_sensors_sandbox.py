"""
The sensors and triggers against a real sandbox server.

- A DAG whose ContactChangedSensor waits while another thread creates and updates contacts, run with
  ``dag.test()`` in poke, reschedule and deferrable mode (``dag.test()`` runs the deferred trigger inline).
- Two adjacent windows against the sandbox: a contact changed exactly at the boundary is reported once.
- The asset watcher: ``ContactChangedTrigger.run()`` driven directly (no triggerer process; the trigger is
  given an in-memory asset state store with the same ``aget``/``aset`` interface): one event per batch,
  none repeated, not even by a restarted watcher.
- Requests per evaluation for 0, 1 and 2,000 changes, read from the sandbox's ``/_sandbox/stats`` (printed;
  run with ``-s`` to see the table).

Every wait is on a condition (a request count, an event list), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle
from airflow_provider_contacts.sensors import ContactChangedSensor
from airflow_provider_contacts.triggers import ContactChangedTrigger
from airflow_provider_contacts.triggers.checks import ContactChangedCheck, to_api_time, utcnow

from .dag_files import load_dag_file, wait_for

pytestmark = pytest.mark.integration

SEARCH_ROUTE = "POST /contacts/search"

DAG_SOURCE = """
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_contacts.sensors import ContactChangedSensor

RESULTS = []

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    wait = ContactChangedSensor(
        task_id="wait",
        event="any",
        min_count={min_count},
        lag_margin={lag_margin},
        poke_interval={poke_interval},
        timeout=120,
        mode={mode!r},
        deferrable={deferrable},
    )

    @task
    def collect(result):
        RESULTS.append(result)

    collect(wait.output)
"""


def searches(sandbox: SandboxHandle) -> int:
    return sandbox.stats()["requests_by_route"].get(SEARCH_ROUTE, 0)


@pytest.fixture
def private_conn(sandbox_factory, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    """A sandbox whose search lags writes by 300 ms, and the default connection on its private token."""
    sandbox = sandbox_factory(seed=40, random_seed=7, rate_limit=1000, rate_interval=1.0, search_lag_ms=300)
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", sandbox.conn_env(sandbox.private_connection()))
    return sandbox


@pytest.fixture
def hook(private_conn: SandboxHandle):
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    return ContactsHook()


def load_dag(folder: Path, monkeypatch: pytest.MonkeyPatch, **params: Any):
    """Write this module's sensor DAG with ``params`` and import it."""
    return load_dag_file(folder, monkeypatch, params["dag_id"], DAG_SOURCE.format(**params))


@pytest.mark.airflow_db
@pytest.mark.parametrize(
    ("mode", "deferrable", "poke_interval"),
    [("poke", False, 0.2), ("reschedule", False, 1), ("poke", True, 0.2)],
    ids=["poke", "reschedule", "deferrable"],
)
def test_dag_sensor_waits_for_changes_made_meanwhile(
    airflow_db, private_conn, hook, tmp_path, monkeypatch, mode, deferrable, poke_interval
):
    existing = next(iter(hook.search_contacts(page_limit=1)))
    dag_id = f"contacts_changed_{mode}_{'deferred' if deferrable else 'sync'}"
    module = load_dag(
        tmp_path,
        monkeypatch,
        dag_id=dag_id,
        min_count=3,
        lag_margin=0.5,
        poke_interval=poke_interval,
        mode=mode,
        deferrable=deferrable,
    )
    made: list[str] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            # Only once the sensor has looked (and found nothing): these changes happen while it waits.
            wait_for(lambda: searches(private_conn) >= 1, what="the sensor's first search")
            made.append(hook.create_contact({"firstName": "New", "email": f"new1-{mode}@x.test"})["id"])
            made.append(hook.create_contact({"firstName": "Newer", "email": f"new2-{mode}@x.test"})["id"])
            made.append(hook.update_contact(existing["id"], {"lastName": f"Changed {mode}"})["id"])
        except BaseException as err:
            errors.append(err)

    private_conn.reset_stats()
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    run = module.dag.test()
    thread.join(timeout=60)
    assert not errors, errors
    assert str(run.state) in ("success", "DagRunState.SUCCESS"), run.state
    [result] = module.RESULTS
    assert sorted(result["contact_ids"]) == sorted(made)
    changes = {c["id"]: c["change"] for c in result["contacts"]}
    assert changes == {made[0]: "created", made[1]: "created", made[2]: "updated"}
    assert searches(private_conn) >= 2  # it did wait: at least one search before the changes


def test_a_contact_changed_at_the_boundary_is_reported_by_one_of_two_runs(private_conn, hook):
    contacts = [hook.create_contact({"firstName": f"Edge{i}", "email": f"edge{i}@x.test"}) for i in range(3)]
    boundary = contacts[1]["dateUpdated"]
    start = to_api_time(utcnow() - timedelta(minutes=5))
    end = to_api_time(utcnow() + timedelta(seconds=1))
    wait_for(lambda: to_api_time(utcnow() - timedelta(seconds=0.5)) >= end, what="the second window to close")
    context: dict[str, Any] = {}
    reported = []
    for since, until in ((start, boundary), (boundary, end)):
        sensor = ContactChangedSensor(task_id="w", event="updated", since=since, until=until, lag_margin=0.5)
        result = sensor.poke(context)
        reported.append(result.xcom_value["contact_ids"] if result.is_done else [])
    first, second = reported
    expected_first = {c["id"] for c in contacts if c["dateUpdated"] < boundary}
    assert contacts[1]["id"] in second and contacts[1]["id"] not in first
    assert set(first) == expected_first and set(second) == {c["id"] for c in contacts} - expected_first


class MemoryStateStore:
    """The async interface of Airflow's asset state store, in memory (no triggerer process here)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.data[key] = json.loads(json.dumps(value))


async def until(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_asset_watcher_fires_once_per_batch_and_never_repeats(private_conn, hook):
    store = MemoryStateStore()
    started = to_api_time(utcnow())
    batch = [
        hook.create_contact({"firstName": f"Batch{i}", "email": f"batch{i}@x.test"})["id"] for i in range(5)
    ]
    # The batch is complete in the (lagging) search index before the watcher's first poll.
    visible = ContactChangedCheck(event="any")
    wait_for(lambda: len(visible.fetch(hook, started, None)) == 5, what="the batch in the search index")

    async def watch(events: list[dict[str, Any]]) -> None:
        trigger = ContactChangedTrigger(event="any", since=started, lag_margin=0.5, poll_interval=0.1)
        trigger.asset_state_store = store
        assert trigger.shared_stream_key() is not None
        async for event in trigger.run():
            events.append(event.payload)

    events: list[dict[str, Any]] = []
    task = asyncio.create_task(watch(events))
    try:
        await until(lambda: events, what="the first event")
        polls = searches(private_conn)
        # Several more polls re-read the lag margin's tail: the batch is not reported again.
        await until(lambda: searches(private_conn) >= polls + 5, what="five more polls")
        assert len(events) == 1 and sorted(events[0]["contact_ids"]) == sorted(batch)
        late = hook.update_contact(batch[0], {"lastName": "Again"})["id"]
        await until(lambda: len(events) == 2, what="the second event")
        assert events[1]["contact_ids"] == [late]  # a new change of a known contact is a new event
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    # A restarted watcher (the triggerer restarted) resumes from the saved watermark: nothing repeats.
    restarted: list[dict[str, Any]] = []
    task = asyncio.create_task(watch(restarted))
    try:
        polls = searches(private_conn)
        await until(lambda: searches(private_conn) >= polls + 5, what="five polls of the restarted watcher")
        assert restarted == []
        newest = hook.create_contact({"firstName": "After", "email": "after@x.test"})["id"]
        await until(lambda: restarted, what="the restarted watcher's event")
        assert restarted[0]["contact_ids"] == [newest]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_requests_per_evaluation(sandbox_factory, monkeypatch):
    """Print requests per evaluation of ContactChangedSensor for 0, 1 and 2,000 changes (sandbox stats)."""
    sandbox = sandbox_factory(seed=0, rate_limit=100_000, rate_interval=1.0)
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", sandbox.conn_env(sandbox.private_connection()))
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    hook = ContactsHook()
    rows = []
    created = 0
    for changes in (0, 1, 2000):
        since = to_api_time(utcnow())
        results = hook.upsert_contacts(
            ({"email": f"m{created + i}@x.test", "firstName": f"M{created + i}"} for i in range(changes)),
            max_workers=4,
        )
        assert all(r["ok"] for r in results)
        created += changes
        until_ = to_api_time(utcnow() + timedelta(milliseconds=1))
        check = ContactChangedCheck(event="any", since=since, until=until_, lag_margin=0, on_empty="succeed")
        wait_for(lambda u=until_: to_api_time(utcnow()) >= u, what="the window to close")
        sandbox.reset_stats()
        before_settled = ContactChangedCheck(
            event="any", since=since, until=to_api_time(utcnow() + timedelta(hours=1))
        )
        assert before_settled.evaluate(hook).status == "waiting"
        waiting_requests = searches(sandbox)
        result = check.evaluate(hook)
        requests = searches(sandbox) - waiting_requests
        rows.append((changes, result.xcom["count"], requests, waiting_requests))
        assert result.xcom["count"] == changes
        assert requests == max(1, math.ceil(changes / 500))
        assert waiting_requests == 0
    print("\nchanges  found  search requests per evaluation  requests while waiting for the window to settle")
    for changes, found, requests, waiting in rows:
        print(f"{changes:7d}  {found:5d}  {requests:30d}  {waiting:d}")

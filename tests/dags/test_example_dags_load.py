"""
Every example DAG parses with no import error and reads no connection, no Variable and no network while
parsing: the lookups are made to fail loudly during the parse, so one at module level is an import error.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
EXPECTED = {
    "contacts_sync",
    "contacts_dashboard",
    "contacts_events",
    "contacts_reconcile",
    "contacts_token_refresh",
    "contacts_warehouse",
    "contacts_alerts",
    "contacts_archive",
    "contacts_activity",
    "contacts_task_sync",
    "contacts_milestones",
    "contacts_agency_sync",
}


class ParseTimeLookup(RuntimeError):
    """A DAG file looked something up while being parsed."""


@pytest.fixture(scope="module")
def dagbag() -> Iterator[Any]:
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.sdk import BaseHook, Connection, Variable
    from airflow.sdk.execution_time import context as runtime_context

    def refuse(what: str) -> Any:
        def _refuse(*args: Any, **kwargs: Any) -> Any:
            raise ParseTimeLookup(f"{what} called at parse time with {args[-1:]!r}")

        return _refuse

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseHook, "get_connection", classmethod(refuse("BaseHook.get_connection")))
        patch.setattr(Connection, "get", classmethod(refuse("Connection.get")))
        patch.setattr(Variable, "get", staticmethod(refuse("Variable.get")))
        patch.setattr(runtime_context, "_get_connection", refuse("_get_connection"))
        patch.setattr(runtime_context, "_get_variable", refuse("_get_variable"))
        patch.setattr(socket.socket, "connect", refuse("socket.connect"))
        patch.setattr(sys, "path", list(sys.path))
        yield BundleDagBag(dag_folder=str(EXAMPLE_DAGS), bundle_path=EXAMPLE_DAGS, bundle_name="example_dags")


def test_guard_catches_a_parse_time_lookup(tmp_path: Path) -> None:
    """The guard itself works: a DAG file that reads a connection at module level fails to import."""
    (tmp_path / "bad_dag.py").write_text(
        "from airflow.sdk import BaseHook, dag\n"
        "BaseHook.get_connection('contacts_default')\n"
        "@dag(schedule=None)\ndef bad():\n    pass\nbad()\n"
    )
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.sdk import BaseHook

    original = BaseHook.__dict__["get_connection"]

    def refuse(cls: Any, conn_id: str) -> Any:
        raise ParseTimeLookup(conn_id)

    BaseHook.get_connection = classmethod(refuse)  # type: ignore[method-assign,assignment]
    try:
        bag = BundleDagBag(dag_folder=str(tmp_path), bundle_path=tmp_path, bundle_name="bad")
    finally:
        BaseHook.get_connection = original  # type: ignore[method-assign]
    assert "ParseTimeLookup" in next(iter(bag.import_errors.values()))


def test_no_import_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}


def test_every_example_dag_is_there(dagbag: Any) -> None:
    assert set(dagbag.dag_ids) == EXPECTED
    # the shared helpers are imported by the DAGs, not parsed as DAG files (.airflowignore)
    assert sorted(stat.file for stat in dagbag.dagbag_stats) == sorted(f"{dag_id}.py" for dag_id in EXPECTED)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_documented_and_tagged(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    module = sys.modules.get(Path(dag.fileloc).stem) or dag
    assert dag.doc_md and dag_id in dag.doc_md, "the module docstring is the DAG's doc"
    assert "contacts" in dag.tags
    assert module is not None


def test_schedules(dagbag: Any) -> None:
    from airflow.sdk import CronDataIntervalTimetable

    sync = dagbag.dags["contacts_sync"]
    assert isinstance(sync.timetable, CronDataIntervalTimetable)
    assert sync.max_active_runs == 1
    refresh = dagbag.dags["contacts_token_refresh"]
    assert refresh.max_active_runs == 1 and refresh.max_active_tasks == 1
    dashboard = dagbag.dags["contacts_dashboard"]
    assert [asset.name for asset in dashboard.timetable.asset_condition.objects] == ["contacts_synced"]
    outlets = [o.name for t in sync.tasks for o in t.outlets]
    assert outlets == ["contacts_synced"]


def test_events_takes_contact_ids_from_webhooks_and_the_watcher(dagbag: Any) -> None:
    """
    The webhook asset's ``ContactCreate`` events (``extra["contact_id"]``) and the watcher's payloads
    (``extra["payload"]["contact_ids"]``) both name contacts; other webhook types do not.
    """
    from types import SimpleNamespace

    dag = dagbag.dags["contacts_events"]
    webhooks, poller = dag.timetable.asset_condition.objects
    assert webhooks.uri == "highlevel://sbxLoc0000000000000A/contacts"
    assert [type(w.trigger).__name__ for w in poller.watchers] == ["ContactChangedTrigger"]
    assert dag.max_active_runs == 1
    events = {
        webhooks: [
            SimpleNamespace(extra={"type": "ContactCreate", "contact_id": "w"}),
            SimpleNamespace(extra={"type": "ContactUpdate", "contact_id": "u"}),
        ],
        poller: [
            SimpleNamespace(extra={"from_trigger": True, "payload": {"contact_ids": ["a", "w"]}}),
            SimpleNamespace(extra={"from_trigger": True, "payload": {"contact_ids": ["w", "c"]}}),
        ],
    }
    pick = dag.get_task("new_contact_ids").python_callable
    assert pick(params={"contact_ids": []}, triggering_asset_events=events) == ["w", "a", "c"]
    assert pick(params={"contact_ids": ["x"]}, triggering_asset_events={}) == ["x"]

"""
The "HighLevel contact" extra link, read the way the UI's API reads it (the serialised task's links of the run's
task instance) after real ``dag.test()`` runs against the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_contacts.links import contact_url
from airflow_provider_contacts.operators import CreateContactOperator, DeleteContactOperator
from airflow_provider_contacts.sandbox import SandboxHandle
from airflow_provider_contacts.sensors.contacts import DuplicateContactSensor
from tests.unit.operators.dags import use_dag_bundle

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]

LINK = "HighLevel contact"


def extra_links(run: Any, task_id: str) -> dict[str, str | None]:
    """
    A task instance's extra links as ``GET .../taskInstances/{task_id}/links`` answers them.

    :param run: the DAG run.
    :param task_id: the task.
    """
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        dag = SerializedDagModel.get_dag(run.dag_id, session=session)
        assert dag is not None
        task = dag.get_task(task_id)
        ti = run.get_task_instance(task_id, session=session)
        return {name: task.get_extra_links(ti, name) or None for name in task.extra_links}


def found_contact_dag() -> DAG:
    """The contact a sensor finds, in poke and in deferrable mode; one created; one deleted."""
    with DAG(
        "contacts_extra_links", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)
    ) as dag:
        for mode, deferrable in (("poke", False), ("deferrable", True)):
            DuplicateContactSensor(
                task_id=f"find_{mode}",
                email="{{ params.email }}",
                deferrable=deferrable,
                poke_interval=1,
                timeout=60,
            )
        CreateContactOperator(task_id="create", fields={"email": "{{ params.new_email }}"})
        DeleteContactOperator(task_id="delete", contact_id="{{ params.doomed }}")
    return dag


@pytest.fixture
def run_dag(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Callable[[], DAG], SandboxHandle], Any]:
    """Run a DAG of this module in ``dag.test()`` with ``contacts_default`` on a sandbox."""
    folder = tmp_path / "dags"
    folder.mkdir()
    use_dag_bundle(monkeypatch, folder, name="contacts-links-tests")

    def run(builder: Callable[[], DAG], sandbox: SandboxHandle, **conf: Any) -> Any:
        connection = json.loads(sandbox.conn_env())
        connection["extra"]["token_file"] = str(tmp_path / "tokens.json")
        monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", json.dumps(connection))
        (folder / f"{builder.__name__}.py").write_text(
            f"# airflow dag\nfrom {__name__} import {builder.__name__}\n\ndag = {builder.__name__}()\n"
        )
        return builder().test(run_conf=conf)

    return run


def test_sensors_and_operators_link_the_contact_they_found_or_made(
    sandbox_factory: Callable[..., SandboxHandle], run_dag: Callable[..., Any]
) -> None:
    sandbox = sandbox_factory(seed=3, rate_limit=1000, rate_interval=1.0)
    client = sandbox.client()
    known = client.create_contact(email="linked@links.example", firstName="Grace")
    doomed = client.create_contact(email="doomed@links.example")

    run = run_dag(
        found_contact_dag,
        sandbox,
        email="linked@links.example",
        new_email="made@links.example",
        doomed=doomed["id"],
    )

    assert run.state == "success", {ti.task_id: ti.state for ti in run.get_task_instances()}
    made = next(c for c in sandbox.all_contacts() if c.get("email") == "made@links.example")
    location = sandbox.location_id
    assert extra_links(run, "find_poke") == {LINK: contact_url(location, known["id"])}
    assert extra_links(run, "find_deferrable") == {LINK: contact_url(location, known["id"])}
    assert extra_links(run, "create") == {LINK: contact_url(location, made["id"])}
    assert extra_links(run, "delete") == {}  # a deleted contact has no page to open
    assert contact_url(location, known["id"]) == (
        f"https://app.gohighlevel.com/v2/location/{location}/contacts/detail/{known['id']}"
    )

"""
Fixtures for the use-case DAG tests, in the shape users run them: the sandbox in its own process, an OAuth
connection whose rotated tokens the hook keeps in an Airflow Variable (the default token store; a key of this
module's own), each DAG run in-process with ``dag.test()``, and a local SMTP server for the alerts.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox

EXAMPLE_DAGS = Path(__file__).resolve().parents[3] / "example_dags"


class World:
    """
    A running sandbox, the parsed example DAGs and the demo directory of one test module.

    :param sb: the sandbox.
    :param bag: the parsed DAGs.
    :param demo: the demo directory (SQLite files of the phone system and the reporting database).
    """

    def __init__(self, sb: SandboxHandle, bag: Any, demo: Path) -> None:
        self.sb, self.bag, self.demo = sb, bag, demo

    def run(self, dag_id: str, **conf: Any) -> Any:
        """Run a DAG with ``dag.test()`` and this conf; return the DAG run."""
        return self.bag.dags[dag_id].test(run_conf=conf)

    def memberships(self, contact_id: str) -> dict[str, list[str]]:
        """The contact's campaigns and workflows, as the sandbox keeps them."""
        answer = requests.get(
            f"{self.sb.base_url}/_sandbox/memberships",
            params={"contactId": contact_id},
            headers={"Authorization": f"Bearer {self.sb.admin_token}"},  # /_sandbox/* need the admin token
            timeout=30,
        )
        answer.raise_for_status()
        return {k: v for k, v in answer.json().items() if k != "traceId"}


def xcom(run: Any, task_id: str, key: str = "return_value") -> Any:
    """
    The XCom a task of a DAG run pushed (the first map index for a mapped task).

    :param run: the DAG run.
    :param task_id: the task.
    :param key: the XCom key.
    """
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
            )
        ).all()
        return XComModel.deserialize_value(rows[0]) if rows else None


def task_states(run: Any) -> dict[str, str]:
    """Each task instance's state, keyed ``task_id`` or ``task_id[map_index]``."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
        ).all()
        return {
            (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): str(ti.state) for ti in tis
        }


@pytest.fixture(scope="module")
def world(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The sandbox (a process of its own, 80 contacts), its OAuth connection, and the parsed DAGs."""
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.models.variable import Variable

    demo = tmp_path_factory.mktemp("demo")
    token_variable = f"contacts_token__usecases_{time.time_ns()}"
    with (
        pytest.MonkeyPatch.context() as patch,
        running_sandbox(
            subprocess_mode=True, seed=80, random_seed=11, rate_limit=1000, rate_interval=1.0
        ) as sb,
    ):
        connection = dict(sb.connection)
        connection["extra"] = {**connection["extra"], "token_variable": token_variable}
        patch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", json.dumps(connection))
        patch.setenv("CONTACTS_DEMO_DIR", str(demo))
        patch.setattr(sys, "path", list(sys.path))
        bag = BundleDagBag(dag_folder=str(EXAMPLE_DAGS), bundle_path=EXAMPLE_DAGS, bundle_name="example_dags")
        assert bag.import_errors == {}
        try:
            yield World(sb, bag, demo)
        finally:
            Variable.delete(token_variable)

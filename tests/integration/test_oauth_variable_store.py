"""
The shape users run: an OAuth connection on the default token store (an Airflow Variable), inside tasks run
by ``dag.test()``, against the sandbox in its own process with short-lived access tokens.

- A deferrable sensor: the trigger refreshes the token and saves it, then the task resumes (it used to die
  with ``NameError: name 'SUPERVISOR_COMMS' is not defined``, issue 10 finding 3).
- Plain tasks: the token is fetched by the run itself, rotated, saved in ``contacts_token__<conn_id>`` and
  read back by the next task; the sandbox saw the refreshes and refused none (finding 4).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox

from .dag_files import load_dag_file, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]

CONN_ID = "contacts_oauth_store"
TOKEN_VARIABLE = f"contacts_token__{CONN_ID}"

DAG_SOURCE = """
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.sensors import ContactChangedSensor

RESULTS = {{}}

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    @task
    def first_read():
        hook = ContactsHook({conn_id!r})
        RESULTS["first"] = next(iter(hook.search_contacts(page_limit=5)))["id"]
        RESULTS["refreshes_first"] = hook.auth.refreshes

    wait = ContactChangedSensor(
        task_id="wait",
        contacts_conn_id={conn_id!r},
        event="created",
        min_count=1,
        poke_interval=0.5,
        timeout=120,
        deferrable=True,
    )

    @task
    def after(result):
        hook = ContactsHook({conn_id!r})
        RESULTS["found"] = result["contact_ids"]
        RESULTS["second"] = hook.get_contact(result["contact_ids"][0])["id"]

    first_read() >> wait
    after(wait.output)
"""


@pytest.fixture
def oauth_sandbox(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxHandle]:
    """The sandbox in its own process, 4 s access tokens, and an OAuth connection with no token_file."""
    from airflow.models.variable import Variable

    with running_sandbox(
        subprocess_mode=True, seed=20, random_seed=3, rate_limit=1000, rate_interval=1.0, access_token_ttl=4
    ) as sb:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", sb.conn_env(sb.oauth_connection()))
        Variable.delete(TOKEN_VARIABLE)
        try:
            yield sb
        finally:
            Variable.delete(TOKEN_VARIABLE)


def load_dag(folder: Path, monkeypatch: pytest.MonkeyPatch, dag_id: str) -> Any:
    return load_dag_file(folder, monkeypatch, dag_id, DAG_SOURCE.format(dag_id=dag_id, conn_id=CONN_ID))


def test_deferrable_sensor_and_tasks_on_the_variable_token_store(
    oauth_sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models.variable import Variable

    from airflow_provider_contacts.auth import MemoryTokenStore
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    seed_refresh = json.loads(oauth_sandbox.conn_env(None))["extra"]["refresh_token"]
    module = load_dag(tmp_path, monkeypatch, "oauth_variable_store")
    writer = ContactsHook(token_store=MemoryTokenStore())
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONTACTS_DEFAULT", oauth_sandbox.conn_env(oauth_sandbox.private_connection())
    )
    made: list[str] = []

    def searches() -> int:
        return int(oauth_sandbox.stats()["requests_by_route"].get("POST /contacts/search", 0))

    def create_once_the_trigger_refreshed() -> None:
        # One search by the first task, one by the sensor's first poke; then the trigger polls every 0.5 s.
        # Twelve polls take 6 s, longer than the 4 s token lives: the trigger has refreshed it by then.
        wait_for(lambda: searches() >= 14, what="twelve polls of the trigger")
        made.append(writer.create_contact({"firstName": "Deferred", "email": "deferred@x.test"})["id"])

    thread = threading.Thread(target=create_once_the_trigger_refreshed, daemon=True)
    oauth_sandbox.reset_stats()
    thread.start()
    run = module.dag.test()
    thread.join(timeout=60)
    assert str(run.state).endswith("success"), run.state
    assert module.RESULTS["found"] == made
    assert module.RESULTS["second"] == made[0]  # the task after the deferral read with the saved token
    stats = oauth_sandbox.stats()
    assert stats["token_refreshes"] >= 3, stats  # the first task's, the trigger's, the resumed tasks''
    assert stats["rejected_refresh_tokens"] == 0, stats
    stored = json.loads(Variable.get(TOKEN_VARIABLE))
    assert stored["refresh_token"] and stored["refresh_token"] != seed_refresh  # rotated and saved

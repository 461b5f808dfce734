"""
The default path over HTTPS, as the API is served: a real task run (``dag.test()``) upserts through the
sandbox serving HTTPS in its own process, with an OAuth connection whose token the run fetches and keeps in
the default Variable token store, trusting the sandbox's CA by ``REQUESTS_CA_BUNDLE``; no new connection of
the task loads the CA bundle again.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from airflow_provider_contacts.sandbox import running_sandbox
from tests.dags.helpers import xcom_value
from tests.tls import NO_BUNDLE, Authority, bundles_loaded

DAG_FILE = """
from datetime import datetime, timezone

from airflow.sdk import DAG, task

from airflow_provider_contacts.hooks.contacts import ContactsHook

with DAG("contacts_over_https", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):

    @task
    def upsert() -> list:
        records = [{"email": f"https-{i}@DOMAIN"} for i in range(30)]
        return [r["contact_id"] for r in ContactsHook().upsert_contacts(records, max_workers=8) if r["ok"]]

    upsert()
"""


@pytest.mark.integration
@pytest.mark.airflow_db
def test_a_task_upserts_over_https_with_the_default_token_store(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow import settings
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.models import Variable

    authority = Authority(tmp_path, "Contacts DAG Test CA", hosts=("127.0.0.1",))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.bundle))
    domain = f"{uuid.uuid4().hex[:8]}.example.com"
    with running_sandbox(
        subprocess_mode=True,
        rate_limit=1000,
        rate_interval=1.0,
        tls_cert=str(authority.chain),
        tls_key=str(authority.key),
    ) as sb:
        connection = dict(sb.connection, extra=dict(sb.connection["extra"]))
        assert "token_file" not in connection["extra"], "the default store: an Airflow Variable"
        monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", json.dumps(connection))
        dags = tmp_path / "dags"
        dags.mkdir()
        (dags / "https_dag.py").write_text(DAG_FILE.replace("DOMAIN", domain))
        monkeypatch.setattr(settings, "DAGS_FOLDER", str(dags))
        bag = BundleDagBag(dag_folder=str(dags), bundle_path=dags, bundle_name="dags-folder")
        assert bag.import_errors == {}

        with bundles_loaded() as loaded:
            run = bag.dags["contacts_over_https"].test()

        assert run.state == "success"
        created = xcom_value(run, "upsert")
        assert len(created) == 30
        assert {c["email"] for c in sb.all_contacts(email_domain=domain)} == {
            f"https-{i}@{domain}" for i in range(30)
        }
        stored = Variable.get("contacts_token__contacts_default", default_var=None)
        assert stored and "refresh_token" in stored, "the run fetched its token and kept it in the Variable"
        assert loaded and set(loaded) == {NO_BUNDLE}, "no connection of the task loaded the CA bundle again"

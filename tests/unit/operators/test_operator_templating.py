"""Templating, XComArg arguments and dynamic task mapping of the Contacts operators."""

from __future__ import annotations

from typing import Any

import pytest
import requests_mock as rm
from airflow.sdk import DAG

from airflow_provider_contacts.operators import (
    AddContactTagsOperator,
    CreateContactTaskOperator,
    DeleteContactOperator,
    SyncContactsOperator,
    UpdateContactOperator,
)

from .conftest import BASE


def test_jinja_in_ids_and_bodies_is_rendered_from_the_context() -> None:
    with DAG("templating", schedule=None, params={"who": "c42"}):
        update = UpdateContactOperator(
            task_id="update",
            contact_id="{{ params.who }}",
            fields={
                "firstName": "{{ params.who | upper }}",
                "customFields": [{"id": "x", "field_value": "{{ ds }}"}],
            },
        )
        task_op = CreateContactTaskOperator(
            task_id="task",
            contact_id="{{ params.who }}",
            title="Call {{ params.who }}",
            due_date="{{ ds }}T09:00:00.000Z",
        )
    context: Any = {"params": {"who": "c42"}, "ds": "2026-11-22"}
    update.render_template_fields(context)
    task_op.render_template_fields(context)

    assert update.contact_id == "c42"
    assert update.fields == {"firstName": "C42", "customFields": [{"id": "x", "field_value": "2026-11-22"}]}
    assert (task_op.contact_id, task_op.title, task_op.due_date) == (
        "c42",
        "Call c42",
        "2026-11-22T09:00:00.000Z",
    )
    assert update.template_fields_renderers["fields"] == "json"


def test_sync_renders_a_path_but_takes_a_literal_list_as_data() -> None:
    with DAG("sync_templating", schedule=None):
        from_file = SyncContactsOperator(task_id="file", records="/data/{{ ds }}.ndjson", tags=["{{ ds }}"])
        literal = SyncContactsOperator(task_id="list", records=[{"email": "{{ not a template"}])
    context: Any = {"ds": "2026-11-22"}
    from_file.render_template_fields(context)
    literal.render_template_fields(context)

    assert from_file.records == "/data/2026-11-22.ndjson"
    assert from_file.tags == ["2026-11-22"]
    assert literal.records == [{"email": "{{ not a template"}]


def test_mapping_accepts_the_operator_parameters() -> None:
    with DAG("mapping", schedule=None):
        mapped = DeleteContactOperator.partial(task_id="delete", contacts_conn_id="crm").expand(
            contact_id=["c1", "c2"]
        )
        tags = AddContactTagsOperator.partial(task_id="tag", tags=["vip"]).expand(contact_id=["c1"])
        with pytest.raises(TypeError, match="unexpected keyword argument 'contact'"):
            DeleteContactOperator.partial(task_id="bad").expand(contact=["c1"])
    assert mapped.partial_kwargs["contacts_conn_id"] == "crm"
    assert tags.expand_input.value == {"contact_id": ["c1"]}


@pytest.mark.airflow_db
def test_taskflow_xcom_and_mapping_in_a_dag_run(
    operator_dags: Any, contacts_conn: Any, requests_mock: rm.Mocker
) -> None:
    """A real ``dag.test()``: XComArg arguments, ``.output`` and ``expand`` resolve to the values sent."""
    from .dags.contacts_operators_taskflow import dag

    requests_mock.delete(f"{BASE}/contacts/c1", json={"succeded": True})
    requests_mock.delete(f"{BASE}/contacts/c2", json={"succeded": True})
    requests_mock.post(f"{BASE}/contacts/c9/notes", json={"note": {"id": "n1", "body": "x"}}, status_code=201)
    requests_mock.post(
        f"{BASE}/contacts/upsert", json={"new": True, "contact": {"id": "c9", "email": "a@b.c"}}
    )
    requests_mock.post(f"{BASE}/contacts/c9/tags", json={"tags": ["example.com"]}, status_code=201)

    run = dag.test()

    assert run.state == "success"
    sent = {(r.method, r.path): r for r in requests_mock.request_history}
    assert sorted(sent) == [
        ("DELETE", "/contacts/c1"),
        ("DELETE", "/contacts/c2"),
        ("POST", "/contacts/c9/notes"),
        ("POST", "/contacts/c9/tags"),
        ("POST", "/contacts/upsert"),
    ]
    assert sent["POST", "/contacts/upsert"].json() == {
        "locationId": "loc1",
        "email": "ada@example.com",
        "firstName": "Ada",
    }
    assert sent["POST", "/contacts/c9/notes"].json()["body"].startswith("Welcome, run of 20")
    assert sent["POST", "/contacts/c9/tags"].json() == {"tags": ["example.com"]}


@pytest.mark.airflow_db
def test_sync_takes_records_from_a_taskflow_task(operator_dags: Any, fake_api: Any) -> None:
    from .dags.contacts_sync_taskflow import dag

    run = dag.test()

    assert run.state == "success"
    [contact] = fake_api.contacts.values()
    assert (contact["email"], contact["tags"]) == ("ada@example.com", ["from-taskflow"])
    assert contact["customFields"] == [{"id": "cf_plan", "value": "Gold"}]
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {"people": "success", "sync": "success", "created_ids": "success"}

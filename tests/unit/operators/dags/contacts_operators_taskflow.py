"""Operators beside TaskFlow tasks: XComArg arguments, ``.output`` and dynamic task mapping."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_contacts.operators import (
    AddContactTagsOperator,
    CreateContactNoteOperator,
    DeleteContactOperator,
    UpsertContactOperator,
)

with DAG(
    "contacts_operators_taskflow",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    params={"email": "ada@example.com", "stale_ids": ["c1", "c2"]},
) as dag:

    @task
    def stale_ids(params: dict[str, Any] | None = None) -> list[str]:
        assert params is not None
        return list(params["stale_ids"])

    @task
    def contact_fields(params: dict[str, Any] | None = None) -> dict[str, str]:
        assert params is not None
        return {"email": params["email"], "firstName": "Ada"}

    @task
    def contact_id_of(upserted: dict[str, Any]) -> str:
        return upserted["contact"]["id"]

    DeleteContactOperator.partial(task_id="delete_stale").expand(contact_id=stale_ids())
    upsert = UpsertContactOperator(task_id="upsert", fields=contact_fields())
    contact_id = contact_id_of(upsert.output)
    CreateContactNoteOperator(task_id="note", contact_id=contact_id, body="Welcome, run of {{ ds }}")
    AddContactTagsOperator(task_id="tag", contact_id=contact_id, tags=["{{ params.email.split('@')[1] }}"])

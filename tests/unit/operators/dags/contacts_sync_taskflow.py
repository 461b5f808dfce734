"""SyncContactsOperator fed by a TaskFlow task (an XComArg), its report read by another."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_contacts.operators import SyncContactsOperator

with DAG(
    "contacts_sync_taskflow",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    params={"tag": "from-taskflow"},
) as dag:

    @task
    def people() -> list[dict[str, Any]]:
        return [{"mail": "ada@example.com", "plan": "gold"}, {"mail": "bob@example", "plan": "silver"}]

    @task
    def created_ids(report: dict[str, Any]) -> list[str]:
        return [entry["contact_id"] for entry in report["records"] if entry["status"] == "created"]

    sync = SyncContactsOperator(
        task_id="sync",
        records=people(),
        field_mapping={"mail": "email", "plan": "customFields.plan_key"},
        tags=["{{ params.tag }}"],
        max_failed_ratio=0.5,
    )
    created_ids(sync.output)

"""
Requests per synced record and records per second of SyncContactsOperator against the sandbox.

As a test it checks the request count on a small sync with fast limits. As a script it measures with the
sandbox's default limits (100 requests per 10 s, like the real API) and prints the numbers::

    .venv/bin/python -m tests.integration.test_sync_throughput [RECORDS] [--tasks]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_contacts.operators import SyncContactsOperator
from airflow_provider_contacts.sandbox import running_sandbox

MAPPING = {"mail": "email", "first": "firstName", "colour": "customFields.favourite_colour"}


class _TaskInstance:
    try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        """The report is returned; nothing else is pushed on success."""


def measure(count: int, with_tasks: bool = False, **sandbox_options: Any) -> dict[str, Any]:
    """
    Sync ``count`` new records, then the same records again, against a fresh sandbox.

    :param count: records to sync.
    :param with_tasks: add a follow-up task per new contact (one more request each).
    :param sandbox_options: options of the sandbox (its limits).
    :return: per run: records/s, API requests per record (counted by the server), created, unchanged.
    """
    records = [
        {"mail": f"throughput.{i}@example.com", "first": f"T{i}", "colour": "red" if i % 2 else "blue"}
        for i in range(count)
    ]
    template = {"title": "Call {firstName}", "due_in_days": 1} if with_tasks else None
    results: dict[str, Any] = {}
    with running_sandbox(seed=0, **sandbox_options) as sb, tempfile.TemporaryDirectory() as tmp:
        connection = json.loads(sb.conn_env())
        connection["extra"]["token_file"] = str(Path(tmp) / "tokens.json")
        os.environ["AIRFLOW_CONN_CONTACTS_DEFAULT"] = json.dumps(connection)
        context: Any = {
            "ti": _TaskInstance(),
            "dag_run": SimpleNamespace(run_after=datetime.now(timezone.utc), clear_number=0),
        }
        for run in ("first", "second"):
            sb.reset_stats()
            op = SyncContactsOperator(
                task_id="sync",
                records=records,
                field_mapping=MAPPING,
                tags=["synced"],
                task_template=template,
            )
            summary = op.execute(context)["summary"]
            stats = sb.stats()
            requests = stats["total_requests"]
            results[run] = {
                "records_per_second": summary["records_per_second"],
                "requests_per_record": round(requests / count, 3),
                "created": summary["created"],
                "unchanged": summary["unchanged"],
                "seconds": summary["seconds"],
                "rate_limited_429": stats["rate_limited_429"],
            }
    return results


@pytest.mark.integration
def test_requests_per_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", "{}")  # restored after the test
    results = measure(250, rate_limit=1000, rate_interval=1.0)
    # First run: one upsert per record, plus the custom fields, 3 searches and the token refresh.
    assert results["first"]["created"] == 250
    assert results["first"]["requests_per_record"] == round((250 + 1 + 3 + 1) / 250, 3)
    # Second run: nothing to write; the custom fields and the searches only (the saved token still works).
    assert results["second"]["unchanged"] == 250
    assert results["second"]["requests_per_record"] == round((1 + 3) / 250, 3)
    assert results["first"]["rate_limited_429"] == results["second"]["rate_limited_429"] == 0


if __name__ == "__main__":
    records = int(next((a for a in sys.argv[1:] if a.isdigit()), "300"))
    numbers = measure(records, with_tasks="--tasks" in sys.argv)  # the sandbox's default limits
    print(json.dumps({"records": records, "limits": "100 requests per 10 s", **numbers}, indent=2))

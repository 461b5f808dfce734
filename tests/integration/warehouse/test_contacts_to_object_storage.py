"""
ContactsToObjectStorageOperator against a sandbox server process, to local files through ObjectStoragePath:
NDJSON and Parquet with the same rows, one file per entity and window, a rerun writing the same bytes; and the
OpenLineage facets of a storage, a SQL and a sync run (printed, for the record).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle

pytestmark = pytest.mark.integration

EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)


def _context() -> dict[str, Any]:
    return {
        "data_interval_start": EPOCH,
        "data_interval_end": datetime.now(timezone.utc) + timedelta(seconds=1),
    }


def _lineage_dict(lineage: Any) -> dict[str, Any]:
    from openlineage.client.serde import Serde

    return {
        "inputs": [Serde.to_dict(d) for d in lineage.inputs],
        "outputs": [Serde.to_dict(d) for d in lineage.outputs],
    }


def test_ndjson_and_parquet_files_and_their_lineage(contacts: SandboxHandle, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from airflow_provider_contacts.transfers import ContactsToObjectStorageOperator

    context = _context()
    api_ids = {c["id"] for c in contacts.all_contacts()}
    files: dict[str, dict[str, str]] = {}
    for file_format in ("ndjson", "parquet"):
        operator = ContactsToObjectStorageOperator(
            task_id=f"to_{file_format}",
            path=f"file://{tmp_path / 'lake'}",
            file_format=file_format,
            include=["tasks"],
        )
        report = operator.execute(context)  # type: ignore[arg-type]
        files[file_format] = report["files"]
        assert set(report["files"]) == {"contacts", "tasks", "custom_fields"}
        assert report["extracted"]["contacts"] == len(api_ids)
        if file_format == "parquet":
            lineage = operator.get_openlineage_facets_on_complete(None)
            facets = _lineage_dict(lineage)
            print("\nOpenLineage, ContactsToObjectStorageOperator:", json.dumps(facets, indent=1))
            assert [(d["namespace"], d["name"]) for d in facets["inputs"]] == [
                (f"highlevel://{contacts.location_id}", "contacts"),
                (f"highlevel://{contacts.location_id}", "tasks"),
            ]
            assert [(d["namespace"], d["name"]) for d in facets["outputs"]] == [
                ("file", str(tmp_path / "lake" / "contacts")),
                ("file", str(tmp_path / "lake" / "tasks")),
                ("file", str(tmp_path / "lake" / "custom_fields")),
            ]
            assert facets["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == len(api_ids)

    ndjson = Path(files["ndjson"]["contacts"].removeprefix("file://"))
    lines = [json.loads(line) for line in ndjson.read_text().splitlines()]
    assert {row["id"] for row in lines} == api_ids
    assert all(isinstance(row["tags"], list) for row in lines)  # JSON columns stay JSON in NDJSON
    parquet = pq.read_table(files["parquet"]["contacts"].removeprefix("file://")).to_pylist()
    assert [row["id"] for row in parquet] == [row["id"] for row in lines]
    assert [row["_hash"] for row in parquet] == [row["_hash"] for row in lines]

    # A rerun of the window writes the same bytes to the same file.
    before = ndjson.read_bytes()
    ContactsToObjectStorageOperator(
        task_id="again", path=f"file://{tmp_path / 'lake'}", include=["tasks"]
    ).execute(context)  # type: ignore[arg-type]
    assert ndjson.read_bytes() == before


def test_sql_and_sync_lineage(
    contacts: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_contacts.operators import SyncContactsOperator
    from airflow_provider_contacts.transfers import ContactsToSqlOperator

    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "w.db")})
    )
    to_sql = ContactsToSqlOperator(task_id="to_sql", sql_conn_id="warehouse", include=["tasks"])
    to_sql.execute(_context())  # type: ignore[arg-type]
    facets = _lineage_dict(to_sql.get_openlineage_facets_on_complete(None))
    print("\nOpenLineage, ContactsToSqlOperator:", json.dumps(facets, indent=1))
    namespace = f"sqlite://{tmp_path / 'w.db'}"
    assert [(d["namespace"], d["name"]) for d in facets["outputs"]] == [
        (namespace, "contacts"),
        (namespace, "contacts_tasks"),
        (namespace, "contacts_custom_fields"),
    ]
    schema = {f["name"]: f["type"] for f in facets["outputs"][0]["facets"]["schema"]["fields"]}
    assert schema["id"] == "TEXT" and schema["custom_fields"] == "TEXT" and "_deleted" in schema

    records = tmp_path / "people.ndjson"
    records.write_text(json.dumps({"email": "lineage@example.com", "firstName": "Lin"}) + "\n")
    sync = SyncContactsOperator(
        task_id="sync", records=str(records), task_template={"title": "Call", "due_in_days": 1}
    )
    sync.execute({})  # type: ignore[arg-type]
    facets = _lineage_dict(sync.get_openlineage_facets_on_complete(None))
    print("\nOpenLineage, SyncContactsOperator:", json.dumps(facets, indent=1))
    assert [(d["namespace"], d["name"]) for d in facets["inputs"]] == [("file", str(records))]
    assert [(d["namespace"], d["name"]) for d in facets["outputs"]] == [
        (f"highlevel://{contacts.location_id}", "contacts"),
        (f"highlevel://{contacts.location_id}", "tasks"),
    ]

"""The connection for operator tests, and a small stateful fake of the Contacts API on requests-mock."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests_mock as rm

from tests.unit.conftest import BASE, connection

from .dags import HERE as DAGS
from .dags import use_dag_bundle

WRITE_SCOPES = "contacts.readonly contacts.write"


@pytest.fixture
def contacts_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``contacts_default`` with both scopes; call the fixture's value to change the scopes."""

    def set_scopes(scopes: str) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", connection(scopes=scopes, max_retries=1))

    set_scopes(WRITE_SCOPES)
    return set_scopes


@pytest.fixture
def operator_dags(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``tests/unit/operators/dags`` the DAG bundle, so ``dag.test()`` finds the DAGs defined there."""
    return use_dag_bundle(monkeypatch, DAGS)


class FakeTI:
    """The parts of a task instance SyncContactsOperator uses: try_number and xcom_push."""

    def __init__(self, try_number: int = 1) -> None:
        self.try_number = try_number
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom takes JSON only
        self.pushed[key] = value


def make_context(try_number: int = 1, run_after: datetime | None = None, clear_number: int = 0) -> dict:
    run_after = run_after or datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    return {
        "ti": FakeTI(try_number),
        "dag_run": SimpleNamespace(run_after=run_after, clear_number=clear_number),
    }


class FakeContactsApi:
    """
    In-memory contacts behind the routes SyncContactsOperator uses: search (OR groups of ``eq`` filters on
    email and phone), upsert (email, then phone, decides; tags replace), custom fields, tasks.
    """

    CUSTOM_FIELDS = [
        {
            "id": "cf_plan",
            "name": "Plan",
            "fieldKey": "contact.plan_key",
            "dataType": "SINGLE_OPTIONS",
            "picklistOptions": ["Gold", "Silver"],
        },
        {"id": "cf_seats", "name": "Seats", "fieldKey": "contact.seats", "dataType": "NUMERICAL"},
        {"id": "cf_langs", "name": "Languages", "fieldKey": "contact.langs", "dataType": "CHECKBOX"},
    ]

    def __init__(self, mocker: rm.Mocker, now: str = "2026-11-22T12:30:00.000Z") -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, list[dict[str, Any]]] = {}
        self.now = now
        self._ids = itertools.count(1)
        self.reject: Callable[[dict[str, Any]], str | None] = lambda body: None
        self.search_rejects_phone = False
        self.search_omits: set[str] = set()  # fields the real search leaves out, e.g. timezone
        mocker.post(f"{BASE}/contacts/search", json=self._search)
        mocker.post(f"{BASE}/contacts/upsert", json=self._upsert)
        mocker.get(f"{BASE}/locations/loc1/customFields", json={"customFields": self.CUSTOM_FIELDS})
        mocker.get(re.compile(rf"^{re.escape(BASE)}/contacts/[^/]+$"), json=self._get_contact)
        tasks = re.compile(rf"^{re.escape(BASE)}/contacts/([^/]+)/tasks$")
        mocker.get(tasks, json=self._get_tasks)
        mocker.post(tasks, json=self._create_task, status_code=201)
        self.mocker = mocker

    def add(self, **fields: Any) -> dict[str, Any]:
        contact = {"id": f"c{next(self._ids)}", "dateAdded": "2026-01-01T00:00:00.000Z", "tags": [], **fields}
        self.contacts[contact["id"]] = contact
        return contact

    def requests(self, method: str, path_part: str = "") -> list[Any]:
        return [r for r in self.mocker.request_history if r.method == method and path_part in r.path]

    @property
    def writes(self) -> list[Any]:
        return [
            r for r in self.mocker.request_history if r.method != "GET" and not r.path.endswith("/search")
        ]

    def _find(self, email: str | None, phone: str | None) -> dict[str, Any] | None:
        for contact in self.contacts.values():
            if email and contact.get("email") == email:
                return contact
        for contact in self.contacts.values():
            if phone and contact.get("phone") == phone:
                return contact
        return None

    def _search(self, request: Any, context: Any) -> dict[str, Any]:
        body = request.json()
        assert body["locationId"] == "loc1"
        wanted: list[tuple[str, str]] = []
        for group in body.get("filters", []):
            assert group["group"] == "OR"
            for flt in group["filters"]:
                assert flt["operator"] == "eq"
                if flt["field"] == "phone" and self.search_rejects_phone:
                    context.status_code = 400
                    return {"statusCode": 400, "message": "Invalid field phone"}
                wanted.append((flt["field"], flt["value"]))
        found = [
            {k: v for k, v in c.items() if k not in self.search_omits}
            for c in self.contacts.values()
            if any(c.get(f) == v for f, v in wanted)
        ]
        return {"contacts": found[: body["pageLimit"]], "total": len(found), "traceId": "t"}

    def _upsert(self, request: Any, context: Any) -> dict[str, Any]:
        body = request.json()
        assert body.pop("locationId") == "loc1"
        problem = self.reject(body)
        if problem:
            context.status_code = 422
            return {"statusCode": 422, "message": [problem], "error": "Unprocessable Entity"}
        contact = self._find(body.get("email"), body.get("phone"))
        new = contact is None
        if new:
            contact = self.add(dateAdded=self.now)
        assert contact is not None
        custom = {item["id"]: item["field_value"] for item in body.pop("customFields", [])}
        if custom:
            stored = {item["id"]: item["value"] for item in contact.get("customFields", [])}
            stored.update(custom)
            contact["customFields"] = [{"id": k, "value": v} for k, v in stored.items()]
        contact.update(body)
        return {"new": new, "contact": dict(contact), "traceId": "t"}

    def _get_contact(self, request: Any, context: Any) -> dict[str, Any]:
        return {"contact": self.contacts[self._contact_id(request)]}

    def _contact_id(self, request: Any) -> str:
        return request.path.split("/")[2]

    def _get_tasks(self, request: Any, context: Any) -> dict[str, Any]:
        return {"tasks": self.tasks.get(self._contact_id(request), [])}

    def _create_task(self, request: Any, context: Any) -> dict[str, Any]:
        contact_id = self._contact_id(request)
        task = {"id": f"t{next(self._ids)}", "contactId": contact_id, **request.json()}
        self.tasks.setdefault(contact_id, []).append(task)
        return {"task": task}


@pytest.fixture
def fake_api(contacts_conn: Any, requests_mock: rm.Mocker) -> FakeContactsApi:
    return FakeContactsApi(requests_mock)

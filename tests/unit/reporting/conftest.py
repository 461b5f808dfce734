"""A fake Contacts hook that answers searches from an in-memory list, evaluating the API's range filters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

TASK_PAGE = 3


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _matches(contact: dict[str, Any], flt: dict[str, Any]) -> bool:
    if flt["operator"] == "range":
        moment = _when(contact[flt["field"]])
        bounds = flt["value"]
        return ("gte" not in bounds or moment >= _when(bounds["gte"])) and (
            "lt" not in bounds or moment < _when(bounds["lt"])
        )
    if flt["operator"] == "eq" and flt["field"] == "tags":
        return flt["value"] in contact.get("tags", [])
    raise AssertionError(f"unexpected filter {flt}")


class FakeContactsHook:
    """
    Answers ``request('POST', '/contacts/search')``, ``search_contacts`` and ``search_location_tasks``
    (pages of ``TASK_PAGE``); logs one call per request.
    """

    location_id = "loc-1"

    def __init__(self, contacts: list[dict[str, Any]], tasks: dict[str, list[dict[str, Any]]]) -> None:
        self.contacts = contacts
        self.tasks = tasks
        self.calls: list[tuple[str, Any]] = []

    @property
    def requests_sent(self) -> int:
        """Every call is one request, like the real hook's counter."""
        return len(self.calls)

    def _select(self, filters: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        return [c for c in self.contacts if all(_matches(c, f) for f in filters or [])]

    def request(self, method: str, path: str, params: Any = None, json: Any = None) -> dict[str, Any]:
        assert (method, path) == ("POST", "/contacts/search")
        assert json["locationId"] == self.location_id
        self.calls.append(("count", json))
        found = self._select(json.get("filters"))
        return {"contacts": found[: json["pageLimit"]], "total": len(found), "traceId": "t"}

    def search_contacts(
        self, filters: Any = None, query: Any = None, sort: Any = None, page_limit: int = 500
    ) -> Iterator[dict[str, Any]]:
        found = sorted(self._select(filters), key=lambda c: c["dateUpdated"], reverse=True)
        for start in range(0, max(len(found), 1), page_limit):
            self.calls.append(("page", filters))
            yield from found[start : start + page_limit]

    def search_location_tasks(
        self, contact_ids: list[str] | None = None, page_limit: int = TASK_PAGE
    ) -> Iterator[dict[str, Any]]:
        found = [
            {**task, "contactId": cid}
            for cid, tasks in self.tasks.items()
            if contact_ids is None or cid in contact_ids
            for task in tasks
        ]
        for start in range(0, len(found) + 1, page_limit):
            self.calls.append(("task_page", contact_ids))
            yield from found[start : start + page_limit]


T0 = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def fake_hook() -> FakeContactsHook:
    """Six contacts: two added before the interval and updated in it, two added in it, two untouched."""
    contacts = [
        {
            "id": "old1",
            "dateAdded": "2026-11-01T00:00:00.000Z",
            "dateUpdated": "2026-11-22T12:30:00.000Z",
            "tags": ["vip", "customer"],
        },
        {
            "id": "old2",
            "dateAdded": "2026-11-02T00:00:00.000Z",
            "dateUpdated": "2026-11-22T12:59:59.999Z",
            "tags": ["customer"],
        },
        {
            "id": "new1",
            "dateAdded": "2026-11-22T12:00:00.000Z",
            "dateUpdated": "2026-11-22T12:10:00.000Z",
            "tags": ["lead"],
        },
        {
            "id": "new2",
            "dateAdded": "2026-11-22T12:45:00.000Z",
            "dateUpdated": "2026-11-22T12:45:00.000Z",
            "tags": ["lead", "customer"],
        },
        {
            "id": "idle1",
            "dateAdded": "2026-10-01T00:00:00.000Z",
            "dateUpdated": "2026-10-05T00:00:00.000Z",
            "tags": [],
        },
        {"id": "late", "dateAdded": "2026-11-22T13:00:00.000Z", "dateUpdated": "2026-11-22T13:00:00.000Z"},
    ]
    tasks = {
        "old1": [
            {"id": "a", "completed": True, "dueDate": "2026-11-20T00:00:00.000Z"},
            {"id": "b", "completed": False, "dueDate": "2026-11-22T12:59:00.000Z"},
        ],
        "new1": [{"id": "c", "completed": False, "dueDate": "2026-11-23T00:00:00.000Z"}],
        "idle1": [{"id": "d", "completed": False, "dueDate": "2026-10-06T00:00:00.000Z"}],
    }
    return FakeContactsHook(contacts, tasks)

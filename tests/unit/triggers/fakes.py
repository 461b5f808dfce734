"""A fake hook for the checks and triggers: the documented hook methods over in-memory data."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_contacts.triggers.checks import to_api_time, to_datetime

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def at(seconds: float = 0.0, base: datetime = T0) -> str:
    """An API time ``seconds`` after T0."""
    return to_api_time(base + timedelta(seconds=seconds))  # type: ignore[return-value]


def _matches(contact: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """A small interpreter of the search filters the checks send (range, eq, AND/OR groups)."""
    if "group" in item:
        results = [_matches(contact, f) for f in item["filters"]]
        return any(results) if item["group"] == "OR" else all(results)
    value = contact.get(item["field"])
    if item["operator"] == "eq":
        return item["value"] in value if isinstance(value, list) else value == item["value"]
    if item["operator"] == "range":
        if value is None:
            return False
        bounds = item["value"]
        checks = {
            "gte": lambda v, b: v >= b,
            "gt": lambda v, b: v > b,
            "lt": lambda v, b: v < b,
            "lte": lambda v, b: v <= b,
        }
        return all(checks[k](to_datetime(value), to_datetime(b)) for k, b in bounds.items())
    raise AssertionError(f"unexpected filter {item}")


class FakeHook:
    """
    The hook methods the checks use, over lists; counts requests like the real hook would page.

    ``visible_from`` maps a contact id to the time from which search sees it (the index's lag); ``clock``
    is the time search answers at.
    """

    def __init__(self) -> None:
        self.contacts: list[dict[str, Any]] = []
        self.visible_from: dict[str, datetime] = {}
        self.clock: datetime | None = None
        self.tasks: dict[str, list[dict[str, Any]]] = {}
        self.notes: dict[str, list[dict[str, Any]]] = {}
        self.appointments: dict[str, list[dict[str, Any]]] = {}
        self.business: dict[str, list[dict[str, Any]]] = {}
        self.duplicate: dict[str, Any] | None = None
        self.searches: list[dict[str, Any]] = []
        self.requests = 0
        self.fail_with: Exception | None = None

    def add(
        self, cid: str, added: str, updated: str | None = None, visible_from: str | None = None, **fields: Any
    ):
        """Add (or replace) a contact."""
        self.contacts = [c for c in self.contacts if c["id"] != cid]
        self.contacts.append({"id": cid, "dateAdded": added, "dateUpdated": updated or added, **fields})
        if visible_from:
            self.visible_from[cid] = to_datetime(visible_from)  # type: ignore[assignment]
        return self

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def search_contacts(
        self,
        filters: list[dict[str, Any]] | None = None,
        query: str | None = None,
        sort: list[dict[str, Any]] | None = None,
        page_limit: int = 500,
    ) -> Iterator[dict[str, Any]]:
        self._maybe_fail()
        self.searches.append({"filters": filters, "query": query, "sort": sort, "page_limit": page_limit})
        found = [
            c
            for c in self.contacts
            if all(_matches(c, f) for f in filters or [])
            and (self.clock is None or self.visible_from.get(c["id"], self.clock) <= self.clock)
        ]
        for s in reversed(sort or []):
            found.sort(key=lambda c: c.get(s["field"]) or "", reverse=s["direction"] == "desc")
        pages = max(1, math.ceil(len(found) / page_limit))
        for page in range(pages):
            self.requests += 1
            yield from found[page * page_limit : (page + 1) * page_limit]

    def find_duplicate_contact(self, email: str | None = None, phone: str | None = None) -> dict | None:
        self._maybe_fail()
        self.requests += 1
        return self.duplicate

    def get_tasks(self, contact_id: str) -> list[dict[str, Any]]:
        self._maybe_fail()
        self.requests += 1
        return list(self.tasks.get(contact_id, []))

    def get_notes(self, contact_id: str) -> list[dict[str, Any]]:
        self._maybe_fail()
        self.requests += 1
        return list(self.notes.get(contact_id, []))

    def get_appointments(self, contact_id: str) -> list[dict[str, Any]]:
        self._maybe_fail()
        self.requests += 1
        return list(self.appointments.get(contact_id, []))

    def get_business_contacts(self, business_id: str, query: str | None = None) -> Iterator[dict[str, Any]]:
        self._maybe_fail()
        items = self.business.get(business_id, [])
        for page in range(max(1, math.ceil(len(items) / 100))):
            self.requests += 1
            yield from items[page * 100 : (page + 1) * 100]

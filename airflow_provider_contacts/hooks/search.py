"""
The Contacts search's filter shapes, and a count from one search answer.

Search filters take ISO-8601 UTC date-times with milliseconds (``range`` with ``gte``/``lt``); a search
answer's ``total`` counts every match, so ``pageLimit: 1`` is enough for a count (``docs/api-behaviour.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol


class SearchRequester(Protocol):
    """The part of ``ContactsHook`` a count needs."""

    @property
    def location_id(self) -> str: ...

    def request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Any: ...


def iso_ms(moment: datetime) -> str:
    """
    Format a moment as the API's filters want it: ISO-8601 UTC with milliseconds and ``Z``.

    :param moment: an aware datetime (a naive one is taken as UTC).
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def range_filter(field_name: str, gte: datetime | None = None, lt: datetime | None = None) -> dict[str, Any]:
    """
    Return a search ``range`` filter on a date field.

    :param field_name: ``dateAdded`` or ``dateUpdated``.
    :param gte: inclusive lower bound.
    :param lt: exclusive upper bound.
    """
    value: dict[str, str] = {}
    if gte is not None:
        value["gte"] = iso_ms(gte)
    if lt is not None:
        value["lt"] = iso_ms(lt)
    return {"field": field_name, "operator": "range", "value": value}


def count_contacts(hook: SearchRequester, filters: Sequence[Mapping[str, Any]] | None = None) -> int:
    """
    Return how many contacts match ``filters``, from one search answer's ``total`` (one request).

    :param hook: the Contacts hook.
    :param filters: search filters in the API's shape; all contacts when None.
    """
    body: dict[str, Any] = {"locationId": hook.location_id, "pageLimit": 1, "page": 1}
    if filters:
        body["filters"] = list(filters)
    answer = hook.request("POST", "/contacts/search", json=body)
    return int(answer["total"])


__all__ = ["count_contacts", "iso_ms", "range_filter"]

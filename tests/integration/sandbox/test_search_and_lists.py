"""Search (filters, sort, page window, searchAfter past 10,000), the deprecated list's cursors, business list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox
from contacts_sandbox.client import SandboxClient

pytestmark = pytest.mark.integration
BIG = 10_050


@pytest.fixture(scope="module")
def big() -> Iterator[tuple[SandboxHandle, SandboxClient]]:
    """A read-only sandbox with a little more than 10,000 contacts (about one second to seed)."""
    with running_sandbox(seed=BIG, random_seed=3, rate_limit=100_000) as sb:
        yield sb, sb.client()


def _search(api: SandboxClient, sb: SandboxHandle, **body: object) -> dict:
    response = api.post("/contacts/search", json={"locationId": sb.location_id, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_page_paging_stops_at_10000_and_search_after_goes_beyond(
    big: tuple[SandboxHandle, SandboxClient],
) -> None:
    sb, api = big
    assert _search(api, sb, pageLimit=500, page=20)["contacts"]
    too_far = api.post("/contacts/search", json={"locationId": sb.location_id, "pageLimit": 500, "page": 21})
    assert too_far.status_code == 400
    assert "searchAfter" in too_far.json()["message"]

    seen: list[str] = []
    after = None
    while True:
        body = {"pageLimit": 500, "sort": [{"field": "dateAdded", "direction": "asc"}]}
        if after is not None:
            body["searchAfter"] = after
        page = _search(api, sb, **body)
        assert page["total"] == BIG
        seen += [c["id"] for c in page["contacts"]]
        if len(page["contacts"]) < 500:
            break
        after = page["contacts"][-1]["searchAfter"]
        assert len(after) == 2 and after[1] == page["contacts"][-1]["id"]
    assert len(seen) == BIG == len(set(seen))
    assert (
        api.post(
            "/contacts/search",
            json={"locationId": sb.location_id, "pageLimit": 5, "page": 1, "searchAfter": after},
        ).status_code
        == 422
    )


def test_filters_groups_and_sort(big: tuple[SandboxHandle, SandboxClient]) -> None:
    sb, api = big
    everyone = sb.all_contacts()
    start = datetime(2000, 1, 1, tzinfo=timezone.utc)
    mid = everyone[len(everyone) // 2]["dateAdded"]
    mid_ms = int(datetime.fromisoformat(mid.replace("Z", "+00:00")).timestamp() * 1000)
    expected = sum(c["dateAdded"] >= mid for c in everyone)
    iso_range = [{"field": "dateAdded", "operator": "range", "value": {"gte": mid}}]
    ms_range = [
        {"field": "dateAdded", "operator": "range", "value": {"gte": mid_ms, "gt": start.isoformat()}}
    ]
    assert _search(api, sb, pageLimit=1, filters=iso_range)["total"] == expected
    assert _search(api, sb, pageLimit=1, filters=ms_range)["total"] == expected

    vip_or_partner = [
        {
            "group": "OR",
            "filters": [
                {"field": "tags", "operator": "eq", "value": "vip"},
                {"field": "tags", "operator": "eq", "value": "partner"},
            ],
        }
    ]
    expected = sum(bool({"vip", "partner"} & set(c["tags"])) for c in everyone)
    assert _search(api, sb, pageLimit=1, filters=vip_or_partner)["total"] == expected

    field = sb.info()["customFields"][1]["id"]
    red = [
        {"field": f"customFields.{field}", "operator": "eq", "value": "red"},
        {"field": "email", "operator": "contains", "value": "example.com"},
        {"field": "businessId", "operator": "not_exists"},
    ]
    expected = sum(
        any(f["id"] == field and f["value"] == "red" for f in c["customFields"])
        and "example.com" in c["email"]
        and not c["businessId"]
        for c in everyone
    )
    assert _search(api, sb, pageLimit=1, filters=red)["total"] == expected

    page = _search(api, sb, pageLimit=50, sort=[{"field": "email", "direction": "desc"}])["contacts"]
    emails = [c["email"] for c in page]
    assert emails == sorted(emails, reverse=True)
    query = _search(api, sb, pageLimit=500, query="Lovelace")
    text = [f"{c['fullNameLowerCase']} {c['email']} {c['companyName'] or ''}".lower() for c in everyone]
    assert query["total"] == sum("lovelace" in t for t in text) > 0


def test_deprecated_list_walks_every_contact_newest_first(big: tuple[SandboxHandle, SandboxClient]) -> None:
    sb, api = big
    assert api.get("/contacts/", params={"locationId": sb.location_id, "limit": 101}).status_code == 422
    assert len(api.get("/contacts/", params={"locationId": sb.location_id}).json()["contacts"]) == 20
    seen: list[dict] = []
    params: dict[str, object] = {"locationId": sb.location_id, "limit": 100}
    while True:
        body = api.get("/contacts/", params=params).json()
        assert body["meta"]["total"] == BIG
        seen += body["contacts"]
        if not body["meta"]["startAfterId"]:
            assert body["meta"]["nextPageUrl"] is None
            break
        params = {
            **params,
            "startAfter": body["meta"]["startAfter"],
            "startAfterId": body["meta"]["startAfterId"],
        }
        if len(seen) == 200:  # the nextPageUrl is the same cursor
            assert f"startAfterId={body['meta']['startAfterId']}" in body["meta"]["nextPageUrl"]
    assert len(seen) == BIG == len({c["id"] for c in seen})
    added = [(c["dateAdded"], c["id"]) for c in seen]
    assert added == sorted(added, reverse=True)


def test_business_contacts_page_with_skip_and_limit(big: tuple[SandboxHandle, SandboxClient]) -> None:
    sb, api = big
    business = sb.info()["businessIds"][0]
    members = [c for c in sb.all_contacts() if c["businessId"] == business]
    params = {"locationId": sb.location_id, "limit": 10, "skip": 10}
    page = api.get(f"/contacts/business/{business}", params=params).json()
    assert page["count"] == len(members) and len(page["contacts"]) == 10


def test_search_lags_writes_when_asked(sandbox_factory: Callable[..., SandboxHandle]) -> None:
    sb = sandbox_factory(seed=5, search_lag_ms=300)
    api = sb.client()
    contact = api.create_contact(email="late@example.com")
    filters = [{"field": "email", "operator": "eq", "value": "late@example.com"}]
    assert _search(api, sb, pageLimit=1, filters=filters)["total"] == 0
    import time

    deadline = time.monotonic() + 5
    while _search(api, sb, pageLimit=1, filters=filters)["total"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert _search(api, sb, pageLimit=1, filters=filters)["contacts"][0]["id"] == contact["id"]


def test_stats_count_routes_and_reset(sandbox: SandboxHandle, api: SandboxClient) -> None:
    sandbox.reset_stats()
    contact = api.create_contact(firstName="S")
    api.get(f"/contacts/{contact['id']}")
    api.get(f"/contacts/{contact['id']}")
    stats = sandbox.stats()
    assert stats["requests_by_route"]["GET /contacts/{contactId}"] == 2
    assert stats["requests_by_route"]["POST /contacts/"] == 1
    assert stats["total_requests"] == 3
    sandbox.reset_stats()
    assert sandbox.stats()["total_requests"] == 0

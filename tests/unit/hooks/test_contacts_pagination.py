"""Lazy pagination with its guards, and the concurrent bulk upsert."""

from __future__ import annotations

import threading

import pytest
import requests_mock as rm

from airflow_provider_contacts.exceptions import ContactsApiError, ContactsConfigError
from airflow_provider_contacts.hooks.contacts import ContactsHook
from tests.unit.conftest import BASE

SEARCH_URL = f"{BASE}/contacts/search"


def page(start: int, count: int, total: int, cursor: bool = True) -> dict:
    contacts = [
        {"id": f"c{i}", **({"searchAfter": [i, f"c{i}"]} if cursor else {})}
        for i in range(start, start + count)
    ]
    return {"contacts": contacts, "total": total}


def test_search_follows_the_cursor_and_stops_at_total_with_the_minimum_requests(
    hook: ContactsHook, requests_mock: rm.Mocker
):
    requests_mock.post(
        SEARCH_URL,
        [{"json": page(0, 500, 1200)}, {"json": page(500, 500, 1200)}, {"json": page(1000, 200, 1200)}],
    )
    ids = [
        c["id"] for c in hook.search_contacts(filters=[{"field": "tags", "operator": "eq", "value": "vip"}])
    ]
    assert ids == [f"c{i}" for i in range(1200)]
    bodies = [r.json() for r in requests_mock.request_history]
    assert len(bodies) == 3
    assert bodies[0]["page"] == 1 and "searchAfter" not in bodies[0]
    assert bodies[1]["searchAfter"] == [499, "c499"] and "page" not in bodies[1]
    assert all(b["locationId"] == "loc1" and b["pageLimit"] == 500 for b in bodies)
    assert all(b["filters"] == [{"field": "tags", "operator": "eq", "value": "vip"}] for b in bodies)


def test_search_stops_at_an_exact_multiple_of_the_page_without_an_extra_request(
    hook: ContactsHook, requests_mock: rm.Mocker
):
    requests_mock.post(SEARCH_URL, [{"json": page(0, 2, 4)}, {"json": page(2, 2, 4)}])
    assert len(list(hook.search_contacts(page_limit=2))) == 4
    assert requests_mock.call_count == 2


def test_search_is_lazy(hook: ContactsHook, requests_mock: rm.Mocker):
    requests_mock.post(SEARCH_URL, [{"json": page(0, 2, 10)}, {"json": page(2, 2, 10)}])
    iterator = hook.search_contacts(page_limit=2)
    assert requests_mock.call_count == 0
    next(iterator)
    next(iterator)
    assert requests_mock.call_count == 1


def test_search_without_cursors_pages_by_number_within_10000_rows(
    hook: ContactsHook, requests_mock: rm.Mocker
):
    requests_mock.post(
        SEARCH_URL, [{"json": page(0, 500, 900, cursor=False)}, {"json": page(500, 400, 900, cursor=False)}]
    )
    assert len(list(hook.search_contacts())) == 900
    assert [r.json()["page"] for r in requests_mock.request_history] == [1, 2]


def test_search_past_10000_rows_without_a_cursor_fails_clearly(hook: ContactsHook, requests_mock: rm.Mocker):
    requests_mock.post(SEARCH_URL, [{"json": page(i * 500, 500, 20000, cursor=False)} for i in range(20)])
    with pytest.raises(ContactsApiError, match="more than 10000"):
        list(hook.search_contacts())
    assert requests_mock.call_count == 20


def test_search_past_10000_rows_uses_the_cursor(hook: ContactsHook, requests_mock: rm.Mocker):
    requests_mock.post(
        SEARCH_URL, [{"json": page(i * 500, 500 if i < 21 else 100, 10600)} for i in range(22)]
    )
    assert len(list(hook.search_contacts())) == 10600
    assert requests_mock.request_history[-1].json()["searchAfter"] == [10499, "c10499"]


def test_search_repeated_cursor_is_refused_instead_of_looping(hook: ContactsHook, requests_mock: rm.Mocker):
    same = {
        "contacts": [{"id": "c1", "searchAfter": [1, "c1"]}, {"id": "c2", "searchAfter": [2, "c2"]}],
        "total": 100,
    }
    requests_mock.post(SEARCH_URL, json=same)
    with pytest.raises(ContactsApiError, match="same searchAfter cursor twice"):
        list(hook.search_contacts(page_limit=2))
    assert requests_mock.call_count == 2


@pytest.mark.parametrize("limit", [0, 501])
def test_search_page_limit_is_checked(hook: ContactsHook, limit):
    with pytest.raises(ContactsConfigError, match="page_limit"):
        next(hook.search_contacts(page_limit=limit))


def test_deprecated_list_follows_both_cursors(hook: ContactsHook, requests_mock: rm.Mocker):
    requests_mock.get(
        f"{BASE}/contacts/",
        [
            {
                "json": {
                    "contacts": [{"id": "a"}, {"id": "b"}],
                    "meta": {"startAfter": 200, "startAfterId": "b"},
                }
            },
            {"json": {"contacts": [{"id": "c"}], "meta": {"startAfter": 100, "startAfterId": "c"}}},
        ],
    )
    assert [c["id"] for c in hook.list_contacts(page_size=2)] == ["a", "b", "c"]
    second = requests_mock.request_history[1].qs
    assert second["startafter"] == ["200"] and second["startafterid"] == ["b"] and second["limit"] == ["2"]


def test_deprecated_list_repeated_cursor_is_refused(hook: ContactsHook, requests_mock: rm.Mocker):
    stuck = {"contacts": [{"id": "a"}, {"id": "b"}], "meta": {"startAfter": 200, "startAfterId": "b"}}
    requests_mock.get(f"{BASE}/contacts/", json=stuck)
    with pytest.raises(ContactsApiError, match="cursor it had returned before"):
        list(hook.list_contacts(page_size=2))
    assert requests_mock.call_count == 2


def test_business_contacts_page_with_skip_and_limit(hook: ContactsHook, requests_mock: rm.Mocker):
    first = {"contacts": [{"id": f"c{i}"} for i in range(100)], "count": 130}
    second = {"contacts": [{"id": f"c{i}"} for i in range(100, 130)], "count": 130}
    requests_mock.get(f"{BASE}/contacts/business/b1", [{"json": first}, {"json": second}])
    assert len(list(hook.get_business_contacts("b1"))) == 130
    assert [r.qs["skip"] for r in requests_mock.request_history] == [["0"], ["100"]]


def test_upsert_contacts_reports_every_record_in_order_and_failures_stay_alone(
    make_hook, requests_mock: rm.Mocker
):
    hook = make_hook()

    def answer(request, context):
        email = request.json()["email"]
        if email.startswith("bad"):
            context.status_code = 422
            return {"statusCode": 422, "message": ["email must be an email"]}
        return {"new": email.endswith("0@x.co"), "contact": {"id": f"id-{email}"}}

    requests_mock.post(f"{BASE}/contacts/upsert", json=answer)
    records = [{"email": f"bad{i}" if i % 7 == 3 else f"ok{i}@x.co"} for i in range(50)]
    results = hook.upsert_contacts(iter(records), max_workers=4)
    assert [r["index"] for r in results] == list(range(50))
    failed = [r for r in results if not r["ok"]]
    assert [r["index"] for r in failed] == [i for i in range(50) if i % 7 == 3]
    assert all(
        r["status"] == 422 and "email must be an email" in r["error"] and f"record {r['index']}" in r["error"]
        for r in failed
    )
    ok = [r for r in results if r["ok"]]
    assert all(r["contact_id"] == f"id-{records[r['index']]['email']}" for r in ok)
    assert [r["new"] for r in ok if r["index"] in (20, 21)] == [True, False]
    assert all(r.json()["locationId"] == "loc1" for r in requests_mock.request_history)


def test_upsert_contacts_keeps_few_records_in_flight(make_hook, requests_mock: rm.Mocker):
    hook = make_hook(requests_per_10s=100_000)
    consumed = 0
    max_ahead = 0
    answered = 0
    lock = threading.Lock()

    def answer(request, context):
        nonlocal answered
        with lock:
            answered += 1
        return {"new": True, "contact": {"id": "x"}}

    def records():
        nonlocal consumed, max_ahead
        for i in range(200):
            consumed += 1
            with lock:
                max_ahead = max(max_ahead, consumed - answered)
            yield {"email": f"r{i}@x.co"}

    requests_mock.post(f"{BASE}/contacts/upsert", json=answer)
    assert len(hook.upsert_contacts(records(), max_workers=3)) == 200
    assert max_ahead <= 3 * 2 + 1, "records are read lazily, a few per worker"

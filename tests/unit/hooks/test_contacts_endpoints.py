"""Every Contacts endpoint method: the request it sends and the object it returns."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
import requests_mock as rm

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.hooks.contacts import ContactsHook
from tests.unit.conftest import BASE, PRIVATE_TOKEN

CONTACT = {"id": "c1", "email": "ada@example.com", "tags": ["vip"]}
TASK = {"id": "t1", "title": "Call", "completed": False}
NOTE = {"id": "n1", "body": "hello"}

# (test id, call, HTTP method, path, answer, expected return, expected JSON body or None, expected query)
CASES: list[tuple[str, Any, str, str, Any, Any, Any, dict[str, str] | None]] = [
    (
        "get_contact",
        lambda h: h.get_contact("c1"),
        "GET",
        "/contacts/c1",
        {"contact": CONTACT},
        CONTACT,
        None,
        None,
    ),
    (
        "create_contact",
        lambda h: h.create_contact({"email": "ada@example.com"}),
        "POST",
        "/contacts/",
        {"contact": CONTACT},
        CONTACT,
        {"locationId": "loc1", "email": "ada@example.com"},
        None,
    ),
    (
        "update_contact",
        lambda h: h.update_contact("c1", {"firstName": "Ada"}),
        "PUT",
        "/contacts/c1",
        {"succeded": True, "contact": CONTACT},
        CONTACT,
        {"firstName": "Ada"},
        None,
    ),
    (
        "delete_contact",
        lambda h: h.delete_contact("c1"),
        "DELETE",
        "/contacts/c1",
        {"succeded": True},
        {"succeded": True, "succeeded": True},
        None,
        None,
    ),
    (
        "upsert_contact",
        lambda h: h.upsert_contact({"email": "ada@example.com"}),
        "POST",
        "/contacts/upsert",
        {"new": True, "contact": CONTACT, "traceId": "x"},
        {"contact": CONTACT, "new": True, "maybe_new": False},
        {"locationId": "loc1", "email": "ada@example.com"},
        None,
    ),
    (
        "find_duplicate_contact",
        lambda h: h.find_duplicate_contact(email="ada@example.com"),
        "GET",
        "/contacts/search/duplicate",
        {"contact": CONTACT},
        CONTACT,
        None,
        {"locationid": "loc1", "email": "ada@example.com"},
    ),
    (
        "find_duplicate_contact_none",
        lambda h: h.find_duplicate_contact(phone="+14155550100"),
        "GET",
        "/contacts/search/duplicate",
        {"contact": None},
        None,
        None,
        {"locationid": "loc1", "number": "+14155550100"},
    ),
    (
        "add_tags",
        lambda h: h.add_tags("c1", ["a", "b"]),
        "POST",
        "/contacts/c1/tags",
        {"tags": ["a", "b", "vip"]},
        ["a", "b", "vip"],
        {"tags": ["a", "b"]},
        None,
    ),
    (
        "remove_tags",
        lambda h: h.remove_tags("c1", ["a"]),
        "DELETE",
        "/contacts/c1/tags",
        {"tags": ["b"]},
        ["b"],
        {"tags": ["a"]},
        None,
    ),
    (
        "bulk_update_business",
        lambda h: h.bulk_update_business(["c1", "c2"], None),
        "POST",
        "/contacts/bulk/business",
        {"success": True, "ids": ["c1", "c2"], "traceId": "x"},
        {"success": True, "ids": ["c1", "c2"]},
        {"locationId": "loc1", "ids": ["c1", "c2"], "businessId": None},
        None,
    ),
    (
        "get_notes",
        lambda h: h.get_notes("c1"),
        "GET",
        "/contacts/c1/notes",
        {"notes": [NOTE]},
        [NOTE],
        None,
        None,
    ),
    (
        "get_note",
        lambda h: h.get_note("c1", "n1"),
        "GET",
        "/contacts/c1/notes/n1",
        {"note": NOTE},
        NOTE,
        None,
        None,
    ),
    (
        "create_note",
        lambda h: h.create_note("c1", "hello", title="Hi", pinned=True),
        "POST",
        "/contacts/c1/notes",
        {"note": NOTE},
        NOTE,
        {"body": "hello", "title": "Hi", "pinned": True},
        None,
    ),
    (
        "update_note",
        lambda h: h.update_note("c1", "n1", body="changed"),
        "PUT",
        "/contacts/c1/notes/n1",
        {"note": NOTE},
        NOTE,
        {"body": "changed"},
        None,
    ),
    (
        "delete_note",
        lambda h: h.delete_note("c1", "n1"),
        "DELETE",
        "/contacts/c1/notes/n1",
        {"succeded": True},
        {"succeded": True, "succeeded": True},
        None,
        None,
    ),
    (
        "get_tasks",
        lambda h: h.get_tasks("c1"),
        "GET",
        "/contacts/c1/tasks",
        {"tasks": [TASK]},
        [TASK],
        None,
        None,
    ),
    (
        "get_task",
        lambda h: h.get_task("c1", "t1"),
        "GET",
        "/contacts/c1/tasks/t1",
        {"task": TASK},
        TASK,
        None,
        None,
    ),
    (
        "create_task",
        lambda h: h.create_task(
            "c1", "Call", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), body="b", assigned_to="u1"
        ),
        "POST",
        "/contacts/c1/tasks",
        {"task": TASK},
        TASK,
        {
            "title": "Call",
            "dueDate": "2026-01-02T03:04:05.000Z",
            "body": "b",
            "assignedTo": "u1",
            "completed": False,
        },
        None,
    ),
    (
        "update_task",
        lambda h: h.update_task("c1", "t1", title="Call back"),
        "PUT",
        "/contacts/c1/tasks/t1",
        {"task": TASK},
        TASK,
        {"title": "Call back"},
        None,
    ),
    (
        "complete_task",
        lambda h: h.complete_task("c1", "t1"),
        "PUT",
        "/contacts/c1/tasks/t1/completed",
        {"task": TASK},
        TASK,
        {"completed": True},
        None,
    ),
    (
        "delete_task",
        lambda h: h.delete_task("c1", "t1"),
        "DELETE",
        "/contacts/c1/tasks/t1",
        {"succeded": True},
        {"succeded": True, "succeeded": True},
        None,
        None,
    ),
    (
        "get_appointments",
        lambda h: h.get_appointments("c1"),
        "GET",
        "/contacts/c1/appointments",
        {"events": [{"id": "e1"}]},
        [{"id": "e1"}],
        None,
        None,
    ),
    (
        "add_to_campaign",
        lambda h: h.add_to_campaign("c1", "camp1"),
        "POST",
        "/contacts/c1/campaigns/camp1",
        {"succeded": True},
        {"succeded": True, "succeeded": True},
        {},
        None,
    ),
    (
        "remove_from_campaign",
        lambda h: h.remove_from_campaign("c1", "camp1"),
        "DELETE",
        "/contacts/c1/campaigns/camp1",
        {"succeded": True},
        {"succeded": True, "succeeded": True},
        None,
        None,
    ),
    (
        "remove_from_all_campaigns",
        lambda h: h.remove_from_all_campaigns("c1"),
        "DELETE",
        "/contacts/c1/campaigns/removeAll",
        {"succeded": True},
        {"succeded": True, "succeeded": True},
        None,
        None,
    ),
    (
        "add_to_workflow",
        lambda h: h.add_to_workflow("c1", "wf1", event_start_time="2026-01-02T10:00:00+02:00"),
        "POST",
        "/contacts/c1/workflow/wf1",
        {"succeded": True},
        {"succeded": True, "succeeded": True},
        {"eventStartTime": "2026-01-02T10:00:00+02:00"},
        None,
    ),
    (
        "remove_from_workflow",
        lambda h: h.remove_from_workflow("c1", "wf1"),
        "DELETE",
        "/contacts/c1/workflow/wf1",
        {"succeded": True},
        {"succeded": True, "succeeded": True},
        None,
        None,
    ),
    (
        "add_followers",
        lambda h: h.add_followers("c1", ["u1"]),
        "POST",
        "/contacts/c1/followers",
        {"followers": ["u1"], "followersAdded": ["u1"]},
        {"followers": ["u1"], "followersAdded": ["u1"]},
        {"followers": ["u1"]},
        None,
    ),
    (
        "remove_followers",
        lambda h: h.remove_followers("c1", ["u1"]),
        "DELETE",
        "/contacts/c1/followers",
        {"followers": [], "followersRemoved": ["u1"]},
        {"followers": [], "followersRemoved": ["u1"]},
        {"followers": ["u1"]},
        None,
    ),
    (
        "get_custom_fields",
        lambda h: h.get_custom_fields(),
        "GET",
        "/locations/loc1/customFields",
        {"customFields": [{"id": "cf1", "fieldKey": "contact.plan"}]},
        [{"id": "cf1", "fieldKey": "contact.plan"}],
        None,
        {"model": "contact"},
    ),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "answer", "expected", "body", "query"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_endpoint_sends_the_documented_request_and_returns_the_inner_object(
    hook: ContactsHook, requests_mock: rm.Mocker, call, method, path, answer, expected, body, query
):
    requests_mock.register_uri(method, BASE + path, json=answer)
    assert call(hook) == expected
    sent = requests_mock.request_history[-1]
    assert sent.method == method
    assert sent.path == path.lower()
    assert sent.headers["Authorization"] == f"Bearer {PRIVATE_TOKEN}"
    assert sent.headers["Version"] == "2021-07-28"
    assert sent.headers["Accept"] == "application/json"
    if body is not None:
        assert sent.json() == body
    if query is not None:
        assert {k: v[0] for k, v in sent.qs.items()} == {k.lower(): v.lower() for k, v in query.items()}


def test_bulk_update_tags_chunks_by_500_and_sums_partial_failures(
    hook: ContactsHook, requests_mock: rm.Mocker
):
    ids = [f"c{i}" for i in range(1203)]
    requests_mock.post(
        f"{BASE}/contacts/bulk/tags/update/remove",
        [
            {
                "status_code": 201,
                "json": {
                    "succeded": True,
                    "errorCount": 1,
                    "responses": [{"contactId": "c7", "type": "error"}],
                },
            },
            {"status_code": 201, "json": {"succeded": True, "errorCount": 0, "responses": []}},
            {"status_code": 201, "json": {"succeded": True, "errorCount": 2, "responses": [{}, {}]}},
        ],
    )
    result = hook.bulk_update_tags(ids, ["old"], action="remove", remove_all=True)
    sizes = [len(r.json()["contacts"]) for r in requests_mock.request_history]
    assert sizes == [500, 500, 203]
    assert requests_mock.request_history[0].json()["removeAllTags"] is True
    assert requests_mock.request_history[0].json()["locationId"] == "loc1"
    assert result["errorCount"] == 3
    assert len(result["responses"]) == 3


def test_bulk_update_tags_rejects_bad_action_before_any_request(hook: ContactsHook, requests_mock: rm.Mocker):
    with pytest.raises(ContactsConfigError, match="action"):
        hook.bulk_update_tags(["c1"], ["x"], action="replace")
    with pytest.raises(ContactsConfigError, match="remove_all"):
        hook.bulk_update_tags(["c1"], ["x"], action="add", remove_all=True)
    assert requests_mock.call_count == 0


def test_ids_are_quoted_so_they_cannot_change_the_route(hook: ContactsHook, requests_mock: rm.Mocker):
    requests_mock.get(f"{BASE}/contacts/..%2Fusers", json={"contact": {"id": "x"}})
    hook.get_contact("../users")
    assert requests_mock.request_history[0].path == "/contacts/..%2fusers"


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_missing_ids_are_refused_with_the_parameter_name(hook: ContactsHook, requests_mock: rm.Mocker, bad):
    with pytest.raises(ContactsConfigError, match="contact_id is required"):
        hook.get_contact(bad)
    with pytest.raises(ContactsConfigError, match="task_id is required"):
        hook.get_task("c1", bad)
    assert requests_mock.call_count == 0


def test_request_reaches_any_other_endpoint_with_a_version_override(
    hook: ContactsHook, requests_mock: rm.Mocker
):
    requests_mock.get(f"{BASE}/calendars/", json={"calendars": []})
    assert hook.request(
        "GET", "/calendars/", params={"locationId": "loc1", "skip": None}, version="2021-04-15"
    ) == {"calendars": []}
    sent = requests_mock.request_history[0]
    assert sent.headers["Version"] == "2021-04-15"
    assert sent.qs == {"locationid": ["loc1"]}


def test_location_id_missing_is_a_clear_config_error(make_hook, requests_mock: rm.Mocker):
    hook = make_hook(location_id=None)
    with pytest.raises(ContactsConfigError, match=r"extra.location_id is required"):
        hook.create_contact({"email": "a@b.co"})
    assert requests_mock.call_count == 0


def test_test_connection_reports_success_and_failure(hook: ContactsHook, requests_mock: rm.Mocker):
    requests_mock.post(f"{BASE}/contacts/search", json={"contacts": [], "total": 42})
    ok, message = hook.test_connection()
    assert ok and "42" in message
    requests_mock.post(
        f"{BASE}/contacts/search",
        status_code=403,
        json={"message": "The token does not have access to this location."},
    )
    ok, message = hook.test_connection()
    assert not ok and "does not have access" in message

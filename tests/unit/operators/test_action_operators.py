"""Every single-action operator against the real hook's HTTP calls (requests-mock)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import requests_mock as rm

import airflow_provider_contacts.operators as operators_module
from airflow_provider_contacts.exceptions import (
    ContactsConfigError,
    ContactsNotFoundError,
    ContactsPermissionError,
)
from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.operators import (
    AddContactFollowersOperator,
    AddContactTagsOperator,
    AddContactToCampaignOperator,
    AddContactToWorkflowOperator,
    BaseContactsOperator,
    BulkUpdateContactTagsOperator,
    CompleteContactTaskOperator,
    CreateContactNoteOperator,
    CreateContactOperator,
    CreateContactTaskOperator,
    DeleteContactNoteOperator,
    DeleteContactOperator,
    DeleteContactTaskOperator,
    RemoveContactFollowersOperator,
    RemoveContactFromAllCampaignsOperator,
    RemoveContactFromCampaignOperator,
    RemoveContactFromWorkflowOperator,
    RemoveContactTagsOperator,
    SyncContactsOperator,
    UpdateContactNoteOperator,
    UpdateContactOperator,
    UpdateContactsBusinessOperator,
    UpdateContactTaskOperator,
    UpsertContactOperator,
)
from tests.unit.conftest import BASE
from tests.unit.conftest import PRIVATE_TOKEN as TOKEN

CONTACT = {"id": "c1", "email": "ada@example.com", "tags": ["vip"]}
TASK = {"id": "t1", "title": "Call", "dueDate": "2026-12-01T09:00:00.000Z", "completed": False}
NOTE = {"id": "n1", "body": "Met at the fair"}


@dataclass
class Case:
    operator: type[BaseContactsOperator]
    kwargs: dict[str, Any]
    method: str
    path: str
    sent: dict[str, Any] | None
    answer: dict[str, Any]
    returned: Any
    status: int = 200
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.operator.__name__


CASES = [
    Case(
        CreateContactOperator,
        {"fields": {"email": "ada@example.com"}},
        "POST",
        "/contacts/",
        {"locationId": "loc1", "email": "ada@example.com"},
        {"contact": CONTACT},
        CONTACT,
        201,
    ),
    Case(
        UpdateContactOperator,
        {"contact_id": "c1", "fields": {"firstName": "Ada"}},
        "PUT",
        "/contacts/c1",
        {"firstName": "Ada"},
        {"succeded": True, "contact": CONTACT},
        CONTACT,
    ),
    Case(
        UpsertContactOperator,
        {"fields": {"email": "ada@example.com"}},
        "POST",
        "/contacts/upsert",
        {"locationId": "loc1", "email": "ada@example.com"},
        {"new": True, "contact": CONTACT, "traceId": "x"},
        {"contact": CONTACT, "new": True, "maybe_new": False},
    ),
    Case(
        DeleteContactOperator, {"contact_id": "c1"}, "DELETE", "/contacts/c1", None, {"succeded": True}, None
    ),
    Case(
        AddContactTagsOperator,
        {"contact_id": "c1", "tags": ["vip", "2026"]},
        "POST",
        "/contacts/c1/tags",
        {"tags": ["vip", "2026"]},
        {"tags": ["vip", "2026", "old"]},
        ["vip", "2026", "old"],
        201,
    ),
    Case(
        RemoveContactTagsOperator,
        {"contact_id": "c1", "tags": ["old"]},
        "DELETE",
        "/contacts/c1/tags",
        {"tags": ["old"]},
        {"tags": ["vip"]},
        ["vip"],
    ),
    Case(
        BulkUpdateContactTagsOperator,
        {"contact_ids": ["c1", "c2"], "tags": ["vip"], "action": "remove", "remove_all": True},
        "POST",
        "/contacts/bulk/tags/update/remove",
        {"contacts": ["c1", "c2"], "tags": ["vip"], "locationId": "loc1", "removeAllTags": True},
        {"succeded": True, "errorCount": 0, "responses": [{"contactId": "c1", "type": "success"}]},
        {
            "succeded": True,
            "succeeded": True,
            "errorCount": 0,
            "responses": [{"contactId": "c1", "type": "success"}],
        },
        201,
    ),
    Case(
        AddContactFollowersOperator,
        {"contact_id": "c1", "followers": ["u1"]},
        "POST",
        "/contacts/c1/followers",
        {"followers": ["u1"]},
        {"followers": ["u1"], "followersAdded": ["u1"], "traceId": "x"},
        {"followers": ["u1"], "followersAdded": ["u1"]},
        201,
    ),
    Case(
        RemoveContactFollowersOperator,
        {"contact_id": "c1", "followers": ["u1"]},
        "DELETE",
        "/contacts/c1/followers",
        {"followers": ["u1"]},
        {"followers": [], "followersRemoved": ["u1"]},
        {"followers": [], "followersRemoved": ["u1"]},
    ),
    Case(
        UpdateContactsBusinessOperator,
        {"contact_ids": ["c1"], "business_id": None},
        "POST",
        "/contacts/bulk/business",
        {"locationId": "loc1", "ids": ["c1"], "businessId": None},
        {"success": True, "ids": ["c1"]},
        {"success": True, "ids": ["c1"]},
    ),
    Case(
        CreateContactTaskOperator,
        {"contact_id": "c1", "title": "Call", "due_date": "2026-12-01T09:00:00.000Z", "assigned_to": "u1"},
        "POST",
        "/contacts/c1/tasks",
        {"title": "Call", "dueDate": "2026-12-01T09:00:00.000Z", "assignedTo": "u1", "completed": False},
        {"task": TASK},
        TASK,
        201,
    ),
    Case(
        UpdateContactTaskOperator,
        {"contact_id": "c1", "contact_task_id": "t1", "title": "Call back"},
        "PUT",
        "/contacts/c1/tasks/t1",
        {"title": "Call back"},
        {"task": TASK},
        TASK,
    ),
    Case(
        CompleteContactTaskOperator,
        {"contact_id": "c1", "contact_task_id": "t1"},
        "PUT",
        "/contacts/c1/tasks/t1/completed",
        {"completed": True},
        {"task": {**TASK, "completed": True}},
        {**TASK, "completed": True},
    ),
    Case(
        DeleteContactTaskOperator,
        {"contact_id": "c1", "contact_task_id": "t1"},
        "DELETE",
        "/contacts/c1/tasks/t1",
        None,
        {"succeded": True, "traceId": "x"},
        {"succeded": True, "succeeded": True},
    ),
    Case(
        CreateContactNoteOperator,
        {"contact_id": "c1", "body": "Met at the fair", "fields": {"title": "Fair"}},
        "POST",
        "/contacts/c1/notes",
        {"body": "Met at the fair", "title": "Fair"},
        {"note": NOTE},
        NOTE,
        201,
    ),
    Case(
        UpdateContactNoteOperator,
        {"contact_id": "c1", "note_id": "n1", "body": "Met twice"},
        "PUT",
        "/contacts/c1/notes/n1",
        {"body": "Met twice"},
        {"note": NOTE},
        NOTE,
    ),
    Case(
        DeleteContactNoteOperator,
        {"contact_id": "c1", "note_id": "n1"},
        "DELETE",
        "/contacts/c1/notes/n1",
        None,
        {"succeded": True},
        {"succeded": True, "succeeded": True},
    ),
    Case(
        AddContactToCampaignOperator,
        {"contact_id": "c1", "campaign_id": "camp1"},
        "POST",
        "/contacts/c1/campaigns/camp1",
        {},
        {"succeded": True},
        {"succeded": True, "succeeded": True},
        201,
    ),
    Case(
        RemoveContactFromCampaignOperator,
        {"contact_id": "c1", "campaign_id": "camp1"},
        "DELETE",
        "/contacts/c1/campaigns/camp1",
        None,
        {"succeded": True},
        {"succeded": True, "succeeded": True},
    ),
    Case(
        RemoveContactFromAllCampaignsOperator,
        {"contact_id": "c1"},
        "DELETE",
        "/contacts/c1/campaigns/removeAll",
        None,
        {"succeded": True},
        {"succeded": True, "succeeded": True},
    ),
    Case(
        AddContactToWorkflowOperator,
        {"contact_id": "c1", "workflow_id": "wf1", "event_start_time": "2026-12-01T09:00:00+01:00"},
        "POST",
        "/contacts/c1/workflow/wf1",
        {"eventStartTime": "2026-12-01T09:00:00+01:00"},
        {"succeded": True},
        {"succeded": True, "succeeded": True},
    ),
    Case(
        RemoveContactFromWorkflowOperator,
        {"contact_id": "c1", "workflow_id": "wf1"},
        "DELETE",
        "/contacts/c1/workflow/wf1",
        None,
        {"succeded": True},
        {"succeded": True, "succeeded": True},
    ),
]


def test_every_exported_operator_has_a_case() -> None:
    exported = {
        getattr(operators_module, name)
        for name in operators_module.__all__
        if name
        not in (
            "BaseContactsOperator",
            "ContactOperator",
            "SyncContactsOperator",
            "InstalledLocationsOperator",
            "installed_location_ids",
        )
    }
    assert exported == {case.operator for case in CASES}
    assert SyncContactsOperator in {getattr(operators_module, n) for n in operators_module.__all__}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_operator_calls_its_endpoint_and_returns_the_api_object(
    case: Case, contacts_conn: Any, requests_mock: rm.Mocker
) -> None:
    requests_mock.register_uri(case.method, f"{BASE}{case.path}", json=case.answer, status_code=case.status)
    op = case.operator(task_id="t", **case.kwargs)

    result = op.execute(context={})

    assert len(requests_mock.request_history) == 1
    sent = requests_mock.last_request
    assert (sent.method, sent.path) == (case.method, case.path.lower())
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    if case.sent is not None:
        assert sent.json() == case.sent
    if case.returned is not None:
        assert result == case.returned
    assert TOKEN not in repr(result)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_read_only_connection_is_refused_before_any_request(
    case: Case, contacts_conn: Any, requests_mock: rm.Mocker
) -> None:
    contacts_conn("contacts.readonly")
    op = case.operator(task_id="t", **case.kwargs)

    with pytest.raises(ContactsPermissionError, match="read-only"):
        op.execute(context={})

    assert requests_mock.request_history == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_parameter_but_the_connection_is_templated(case: Case) -> None:
    op = case.operator(task_id="t", **case.kwargs)
    assert set(case.kwargs) <= set(op.template_fields)
    for name in op.template_fields:
        assert hasattr(op, name)


def test_api_errors_surface_unchanged(contacts_conn: Any, requests_mock: rm.Mocker) -> None:
    requests_mock.delete(
        f"{BASE}/contacts/gone", status_code=404, json={"statusCode": 404, "message": "Contact not found"}
    )
    with pytest.raises(ContactsNotFoundError, match="Contact not found"):
        DeleteContactOperator(task_id="t", contact_id="gone").execute(context={})


def test_hook_is_made_at_execute_time_with_the_operators_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []

    def spy(
        self: ContactsHook,
        contacts_conn_id: str = "contacts_default",
        location_id: Any = None,
        token_store: Any = None,
    ) -> None:
        made.append(contacts_conn_id)
        raise RuntimeError("stop")

    monkeypatch.setattr(ContactsHook, "__init__", spy)
    op = DeleteContactOperator(task_id="t", contact_id="c1", contacts_conn_id="crm")
    assert made == []  # building the operator (DAG parsing) reads no connection
    with pytest.raises(RuntimeError, match="stop"):
        op.execute(context={})
    assert made == ["crm"]


def test_contact_task_id_is_sent_as_the_hooks_task_id() -> None:
    op = CompleteContactTaskOperator(task_id="airflow_task", contact_id="c1", contact_task_id="t9")
    assert op.hook_arguments() == {"contact_id": "c1", "task_id": "t9", "completed": True}
    assert op.task_id == "airflow_task"


def test_note_fields_are_spread_into_the_hook_call() -> None:
    op = CreateContactNoteOperator(task_id="n", contact_id="c1", body="hi", fields={"pinned": True})
    assert op.hook_arguments() == {"contact_id": "c1", "body": "hi", "pinned": True}
    assert CreateContactNoteOperator(task_id="m", contact_id="c1", body="hi").hook_arguments() == {
        "contact_id": "c1",
        "body": "hi",
    }


def test_rendered_flags_are_read_as_booleans() -> None:
    done = CompleteContactTaskOperator(task_id="a", contact_id="c1", contact_task_id="t1", completed="False")
    assert done.hook_arguments()["completed"] is False
    bulk = BulkUpdateContactTagsOperator(task_id="b", contact_ids=["c1"], tags=["x"], remove_all=" true ")
    assert bulk.hook_arguments()["remove_all"] is True
    with pytest.raises(ContactsConfigError, match="completed must be true or false, got 'maybe'"):
        CompleteContactTaskOperator(
            task_id="c", contact_id="c1", contact_task_id="t1", completed="maybe"
        ).hook_arguments()

"""SyncContactsOperator against the real hook and a stateful fake API on requests-mock."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_contacts.exceptions import (
    ContactsApiError,
    ContactsConfigError,
    ContactsPermissionError,
)
from airflow_provider_contacts.operators import SyncContactsOperator
from tests.unit.operators.conftest import BASE, FakeContactsApi, make_context

RECORDS = [
    {"mail": "Ada@Example.com", "mobile": "415 555 0100", "first": "Ada", "plan": "gold"},
    {"mail": "bob@example.com", "mobile": "", "first": "Bob", "plan": "silver"},
    {"mail": "not-an-email", "mobile": "415 555 0102", "first": "Eve", "plan": "gold"},
    {"mail": "cy@example.com", "mobile": "(415) 555-0103", "first": "Cy", "plan": ""},
]
MAPPING = {"mail": "email", "mobile": "phone", "first": "firstName", "plan": "customFields.plan_key"}
TEMPLATE = {"title": "Welcome call: {firstName}", "body": "Plan check", "due_in_days": 2, "assigned_to": "u1"}


def sync(**kwargs: Any) -> SyncContactsOperator:
    options: dict[str, Any] = {
        "records": RECORDS,
        "field_mapping": MAPPING,
        "tags": ["synced"],
        "max_failed_ratio": 0.3,
    }
    options.update(kwargs)
    return SyncContactsOperator(task_id="sync", **options)


def by_status(report: dict[str, Any]) -> dict[str, list[int]]:
    statuses: dict[str, list[int]] = {}
    for entry in report["records"]:
        statuses.setdefault(entry["status"], []).append(entry["index"])
    return statuses


def test_first_run_creates_reports_and_adds_one_task_per_new_contact(fake_api: FakeContactsApi) -> None:
    context = make_context()
    report = sync(task_template=TEMPLATE).execute(context)

    assert by_status(report) == {"created": [0, 1, 3], "failed": [2]}
    assert report["summary"] | {"seconds": 0, "records_per_second": 0} == {
        "total": 4,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
        "tasks_created": 3,
        "api_calls": 8,  # custom fields, 1 search, 3 upserts, 3 tasks
        "api_calls_per_record": 2.0,
        "seconds": 0,
        "records_per_second": 0,
        "dry_run": False,
        "source": "a list of 4 records",
        "conn_id": "contacts_default",
        "location_id": "loc1",
    }
    failed = report["records"][2]
    assert failed["error"] == (
        "record 2 (mail not-an-email): field 'email' (from 'mail'): 'not-an-email' is not a valid e-mail address"
    )
    ada = next(c for c in fake_api.contacts.values() if c["email"] == "ada@example.com")
    assert ada["phone"] == "+14155550100"
    assert ada["tags"] == ["synced"]
    assert ada["customFields"] == [{"id": "cf_plan", "value": "Gold"}]
    assert report["records"][0]["contact_id"] == ada["id"]
    assert report["records"][0]["task"] == "created"
    [task] = fake_api.tasks[ada["id"]]
    assert task["title"] == "Welcome call: Ada"
    assert task["dueDate"] == "2026-11-24T12:00:00.000Z"  # run_after + 2 days: the same on every retry
    assert (task["assignedTo"], task["body"], task["completed"]) == ("u1", "Plan check", False)
    assert "return_value" not in context["ti"].pushed  # on success the return value is the report


def test_a_second_run_over_the_same_input_writes_nothing(fake_api: FakeContactsApi) -> None:
    sync(task_template=TEMPLATE).execute(make_context())
    fake_api.mocker.reset_mock()

    report = sync(task_template=TEMPLATE).execute(make_context())

    assert report["summary"]["created"] == 0
    assert by_status(report) == {"unchanged": [0, 1, 3], "failed": [2]}
    assert fake_api.writes == []
    assert [r.path for r in fake_api.mocker.request_history] == [
        "/locations/loc1/customfields",
        "/contacts/search",
    ]


def test_existing_contacts_keep_their_tags_and_only_changes_are_written(fake_api: FakeContactsApi) -> None:
    fake_api.add(email="ada@example.com", phone="+14155550100", firstName="Ada", tags=["vip"])
    fake_api.add(
        email="bob@example.com",
        firstName="Bob",
        tags=["Synced"],
        customFields=[{"id": "cf_plan", "value": "Silver"}],
    )
    report = sync(records=RECORDS[:2]).execute(make_context())

    assert by_status(report) == {"updated": [0], "unchanged": [1]}
    assert report["records"][0]["changes"] == ["customFields.cf_plan", "tags"]
    [upsert] = fake_api.requests("POST", "/upsert")
    assert upsert.json()["tags"] == ["vip", "synced"]
    assert upsert.json()["email"] == "ada@example.com"


def test_phone_only_records_match_by_phone(fake_api: FakeContactsApi) -> None:
    existing = fake_api.add(phone="+14155550199", tags=["synced"])
    report = sync(records=[{"mobile": "415-555-0199"}]).execute(make_context())
    assert report["records"][0] | {"index": 0} == {
        "index": 0,
        "label": "mobile 415-555-0199",
        "status": "unchanged",
        "contact_id": existing["id"],
    }


def test_batches_take_one_search_each(fake_api: FakeContactsApi) -> None:
    records = [{"email": f"p{i}@example.com"} for i in range(5)]
    sync(records=records, field_mapping=None, batch_size=2).execute(make_context())
    searches = fake_api.requests("POST", "/search")
    assert len(searches) == 3
    group = searches[0].json()["filters"][0]
    assert group["group"] == "OR"
    assert [f["value"] for f in group["filters"]] == ["p0@example.com", "p1@example.com"]
    assert searches[0].json()["pageLimit"] == 500


def test_dry_run_reports_what_would_change_without_writing(fake_api: FakeContactsApi) -> None:
    fake_api.add(email="ada@example.com", firstName="Ada", tags=[])
    report = sync(dry_run=True, task_template=TEMPLATE).execute(make_context())

    assert fake_api.writes == []
    assert by_status(report) == {"updated": [0], "created": [1, 3], "failed": [2]}
    assert report["records"][0]["changes"] == ["phone", "customFields.cf_plan", "tags"]
    assert report["records"][1]["task"] == "would create"
    assert report["summary"]["dry_run"] is True


def test_dry_run_works_on_a_read_only_connection(fake_api: FakeContactsApi, contacts_conn: Any) -> None:
    contacts_conn("contacts.readonly")
    report = sync(dry_run="true").execute(make_context())  # a rendered template is text
    assert report["summary"]["created"] == 3


def test_read_only_connection_stops_the_run_before_any_write(
    fake_api: FakeContactsApi, contacts_conn: Any
) -> None:
    contacts_conn("contacts.readonly")
    context = make_context()
    with pytest.raises(ContactsPermissionError, match="read-only"):
        sync().execute(context)
    assert fake_api.writes == []
    assert fake_api.requests("POST", "/search") == [], "it fails before the validation pass and any read"
    assert context["ti"].pushed["return_value"]["summary"]["total"] == 0


def test_too_many_invalid_records_fail_the_run_before_any_request_that_writes(
    fake_api: FakeContactsApi,
) -> None:
    context = make_context()
    with pytest.raises(
        AirflowFailException, match=r"1 of 4 records failed \(25.0% > max_failed_ratio 5.0%\); none"
    ):
        sync(max_failed_ratio=0.05).execute(context)
    assert fake_api.writes == [] and fake_api.requests("POST", "/search") == []
    pushed = context["ti"].pushed["return_value"]
    assert by_status(pushed) == {"failed": [2]}


def test_api_failures_are_per_record_and_count_towards_the_ratio(fake_api: FakeContactsApi) -> None:
    fake_api.reject = lambda body: "firstName is too long" if body.get("firstName") in ("Bob", "Cy") else None
    context = make_context()
    with pytest.raises(AirflowException, match="3 of 4 records failed") as caught:
        sync(max_failed_ratio=0.5).execute(context)
    assert not isinstance(caught.value, AirflowFailException)  # a retry may succeed: the API was the problem
    report = context["ti"].pushed["return_value"]
    assert by_status(report) == {"created": [0], "failed": [1, 2, 3]}
    assert report["records"][1]["error"] == (
        "record 1 (mail bob@example.com): upsert refused: HTTP 422: firstName is too long"
    )


def test_a_retry_adds_the_missing_task_but_never_a_second_one(fake_api: FakeContactsApi) -> None:
    # Try 1 created Ada (after the run's run_after) and crashed before her task; Bob got his task.
    ada = fake_api.add(email="ada@example.com", dateAdded="2026-11-22T12:01:00.000Z", tags=["synced"])
    bob = fake_api.add(email="bob@example.com", dateAdded="2026-11-22T12:01:00.000Z", tags=["synced"])
    fake_api.tasks[bob["id"]] = [
        {"id": "t0", "title": "Welcome call: Bob", "dueDate": "2026-11-24T12:00:00.000Z"}
    ]
    old = fake_api.add(email="old@example.com", dateAdded="2025-01-01T00:00:00.000Z", tags=["synced"])
    records = [
        {"email": "ada@example.com", "firstName": "Ada"},
        {"email": "bob@example.com", "firstName": "Bob"},
        {"email": "old@example.com"},
    ]
    fake_api.contacts[ada["id"]]["firstName"] = "Ada"
    fake_api.contacts[bob["id"]]["firstName"] = "Bob"

    report = sync(records=records, field_mapping=None, task_template=TEMPLATE).execute(
        make_context(try_number=2)
    )

    assert [e.get("task") for e in report["records"]] == ["created", "exists", None]
    assert len(fake_api.tasks[ada["id"]]) == 1 and len(fake_api.tasks[bob["id"]]) == 1
    assert old["id"] not in fake_api.tasks
    assert fake_api.requests("POST", "/upsert") == []
    assert {r.path for r in fake_api.requests("GET", "/tasks")} == {
        f"/contacts/{ada['id']}/tasks".lower(),
        f"/contacts/{bob['id']}/tasks".lower(),
    }


def test_a_first_try_does_not_look_for_tasks_of_existing_contacts(fake_api: FakeContactsApi) -> None:
    fake_api.add(email="ada@example.com", dateAdded="2026-11-22T12:01:00.000Z", tags=["synced"])
    sync(records=[{"email": "ada@example.com"}], field_mapping=None, task_template=TEMPLATE).execute(
        make_context()
    )
    assert fake_api.requests("GET", "/tasks") == []


def test_phone_search_refused_falls_back_to_email(fake_api: FakeContactsApi) -> None:
    fake_api.search_rejects_phone = True
    fake_api.add(email="ada@example.com", phone="+14155550100", firstName="Ada", tags=["synced"])
    report = sync(
        records=RECORDS[:1], field_mapping={"mail": "email", "mobile": "phone", "first": "firstName"}
    ).execute(make_context())
    assert by_status(report) == {"unchanged": [0]}


def test_file_records_and_progress_lines(fake_api: FakeContactsApi, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "people.csv"
    path.write_text("mail,first\n" + "".join(f"p{i}@example.com,P{i}\n" for i in range(30)))

    report = sync(
        records=str(path), field_mapping={"mail": "email", "first": "firstName"}, progress_interval=0
    ).execute(make_context())

    assert report["summary"]["created"] == 30
    assert report["summary"]["source"] == str(path)
    log = capsys.readouterr().out  # the task logger writes to stdout
    progress = [line for line in log.splitlines() if "/30 records" in line]
    assert progress and "ETA" in progress[0] and "/s" in progress[0]
    assert "1/30 records" in progress[0]
    assert f"Synced 30 records from {path}: 30 created" in log


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"body": "x", "due_in_days": 1}, "needs a title"),
        ({"title": "x"}, "either due_in_days or due_date"),
        ({"title": "x", "due_in_days": 1, "due_date": "2026-12-01"}, "either due_in_days or due_date"),
        ({"title": "x", "due_date": "soon"}, "task_template due_date must be a point in time"),
        ({"title": "x", "due_in_days": 1, "priority": "high"}, "unknown keys"),
    ],
)
def test_bad_task_templates_fail_before_any_request(
    fake_api: FakeContactsApi, template: dict[str, Any], message: str
) -> None:
    with pytest.raises(ContactsConfigError, match=message):
        sync(task_template=template).execute(make_context())
    assert fake_api.mocker.request_history == []


def test_a_due_date_in_the_template_is_used_as_given(fake_api: FakeContactsApi) -> None:
    template = {"title": "Call", "due_date": "2026-12-24T09:30:00Z"}
    sync(records=RECORDS[:1], task_template=template).execute(
        make_context(run_after=datetime(2026, 1, 1, tzinfo=timezone.utc))
    )
    [task] = next(iter(fake_api.tasks.values()))
    assert task["dueDate"] == "2026-12-24T09:30:00.000Z"


def test_a_failed_lookup_stops_the_run_and_still_reports(fake_api: FakeContactsApi) -> None:
    fake_api.mocker.post(f"{BASE}/contacts/search", status_code=503, json={"message": "down"})
    context = make_context()
    with pytest.raises(ContactsApiError, match="HTTP 503"):
        sync().execute(context)
    assert fake_api.writes == []
    report = context["ti"].pushed["return_value"]
    assert by_status(report) == {"failed": [2]} and report["summary"]["total"] == 4


@pytest.mark.parametrize("dry_run", [False, True])
def test_fields_the_search_leaves_out_are_read_before_calling_a_contact_changed(
    fake_api: FakeContactsApi, dry_run: bool
) -> None:
    fake_api.search_omits = {"timezone"}
    fake_api.add(email="ada@example.com", timezone="Europe/Paris", tags=["synced"])
    fake_api.add(email="bob@example.com", timezone="Europe/Paris", tags=["synced"])
    records = [
        {"email": "ada@example.com", "timezone": "Europe/Paris"},
        {"email": "bob@example.com", "timezone": "Europe/Berlin"},
    ]
    report = sync(records=records, field_mapping=None, dry_run=dry_run).execute(make_context())

    assert by_status(report) == {"unchanged": [0], "updated": [1]}
    assert report["records"][1]["changes"] == ["timezone"]
    assert len(fake_api.requests("GET", "/contacts/c")) == 2
    assert len(fake_api.requests("POST", "/upsert")) == (0 if dry_run else 1)


def _task_posts_that(fake_api: FakeContactsApi, outcomes: list[str]) -> None:
    """Answer the follow-up task creates in turn: ``applied-502`` (created, then a 502), ``503``, ``ok``."""
    import re

    answers = iter(outcomes)

    def create(request: Any, context: Any) -> dict[str, Any]:
        outcome = next(answers, "ok")
        if outcome == "503":
            context.status_code = 503
            return {"message": "unavailable"}
        body = fake_api._create_task(request, context)
        context.status_code = 502 if outcome == "applied-502" else 201
        return body if outcome == "ok" else {"message": "bad gateway"}

    fake_api.mocker.post(re.compile(rf"^{re.escape(BASE)}/contacts/([^/]+)/tasks$"), json=create)


def test_a_task_created_behind_a_5xx_is_found_and_not_created_twice(fake_api: FakeContactsApi) -> None:
    _task_posts_that(fake_api, ["applied-502"])
    report = sync(
        records=[{"email": "ada@example.com", "firstName": "Ada"}], field_mapping=None, task_template=TEMPLATE
    ).execute(make_context())
    assert report["records"][0]["task"] == "created" and report["summary"]["tasks_created"] == 1
    contact_id = report["records"][0]["contact_id"]
    assert len(fake_api.tasks[contact_id]) == 1
    assert len(fake_api.requests("POST", "/tasks")) == 1 and len(fake_api.requests("GET", "/tasks")) == 1


def test_a_task_refused_by_a_5xx_is_created_again_after_checking(fake_api: FakeContactsApi) -> None:
    _task_posts_that(fake_api, ["503", "ok"])
    report = sync(
        records=[{"email": "ada@example.com", "firstName": "Ada"}], field_mapping=None, task_template=TEMPLATE
    ).execute(make_context())
    contact_id = report["records"][0]["contact_id"]
    assert report["records"][0]["task"] == "created"
    assert len(fake_api.tasks[contact_id]) == 1
    assert len(fake_api.requests("POST", "/tasks")) == 2 and len(fake_api.requests("GET", "/tasks")) == 1


@pytest.mark.parametrize("dry_run", ["Ture", "maybe", "", 2, None])
def test_an_unrecognised_dry_run_is_an_error_naming_it_and_the_task(
    fake_api: FakeContactsApi, dry_run: Any
) -> None:
    """``dry_run="Ture"`` was read as False and wrote for real (issue 10, finding 6)."""
    with pytest.raises(
        ContactsConfigError,
        match=rf"task 'sync': dry_run must be true or false, got {re.escape(repr(dry_run))}",
    ):
        sync(dry_run=dry_run).execute(make_context())
    assert fake_api.mocker.request_history == []


@pytest.mark.parametrize(
    ("text", "expected"), [("False", False), ("off", False), ("TRUE", True), ("1", True)]
)
def test_a_rendered_dry_run_is_read_as_the_flag_it_spells(
    fake_api: FakeContactsApi, text: str, expected: bool
) -> None:
    report = sync(dry_run=text).execute(make_context())
    assert report["summary"]["dry_run"] is expected


def test_a_contact_created_behind_a_lost_upsert_answer_still_gets_its_task(fake_api: FakeContactsApi) -> None:
    """
    The upsert that created Ada got a 502; its retry answered ``new: false`` (she existed by then). Before
    ``maybe_new``, the first try took her for an existing contact and never gave her the follow-up task.
    """
    attempts = iter(["applied-502"])

    def upsert(request: Any, context: Any) -> dict[str, Any]:
        body = fake_api._upsert(request, context)
        if next(attempts, "ok") == "applied-502":
            context.status_code = 502
            return {"message": "bad gateway"}
        return body

    fake_api.mocker.post(f"{BASE}/contacts/upsert", json=upsert)
    report = sync(
        records=[{"email": "ada@example.com", "firstName": "Ada"}], field_mapping=None, task_template=TEMPLATE
    ).execute(make_context())
    [entry] = report["records"]
    assert (entry["status"], entry["task"]) == ("updated", "created")
    assert len(fake_api.tasks[entry["contact_id"]]) == 1
    assert len(fake_api.requests("POST", "/upsert")) == 2 and len(fake_api.requests("GET", "/tasks")) == 1

"""The conditions shared by the sensors' poke and the triggers, against a fake hook."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.triggers.checks import (
    BusinessContactsCheck,
    ContactAppointmentCheck,
    ContactChangedCheck,
    ContactNoteCheck,
    ContactSearchCheck,
    ContactTaskCheck,
    DuplicateContactCheck,
    summarize,
    to_api_time,
    to_datetime,
)

from .fakes import T0, FakeHook, at

HOUR = 3600


# ----------------------------------------------------------------------------------------------- time


def test_api_time_floors_to_the_millisecond_and_reads_every_form():
    assert (
        to_api_time(datetime(2026, 1, 2, 3, 4, 5, 678999, tzinfo=timezone.utc)) == "2026-01-02T03:04:05.678Z"
    )
    assert to_api_time("2026-01-02T03:04:05Z") == "2026-01-02T03:04:05.000Z"
    assert to_api_time("2026-01-02 05:04:05+02:00") == "2026-01-02T03:04:05.000Z"
    assert to_api_time(datetime(2026, 1, 2)) == "2026-01-02T00:00:00.000Z"  # naive is UTC
    assert to_api_time(1767225600000) == "2026-01-01T00:00:00.000Z"  # epoch milliseconds
    assert to_api_time("1767225600000") == "2026-01-01T00:00:00.000Z"
    assert to_api_time(None) is None and to_datetime("") is None
    with pytest.raises(ContactsConfigError):
        to_api_time("yesterday")


def test_summaries_keep_the_useful_fields_only():
    contact = {
        "id": "c1",
        "firstName": "Ada",
        "lastName": "L",
        "email": "a@x",
        "customFields": [1],
        "dnd": False,
    }
    assert summarize(contact, ("id", "name", "email")) == {"id": "c1", "name": "Ada L", "email": "a@x"}
    raw = summarize({**contact, "searchAfter": [1, "c1"]}, ("id",), include_raw=True)
    assert "customFields" in raw and "searchAfter" not in raw
    note = summarize({"id": "n", "body": "x" * 2000}, ("id", "body"))
    assert len(note["body"]) < 600


# -------------------------------------------------------------------------------------- changed window


@pytest.mark.parametrize(
    ("event", "fields"),
    [("created", ["dateAdded"]), ("updated", ["dateUpdated"]), ("any", ["dateAdded", "dateUpdated"])],
)
def test_changed_search_is_one_ranged_sorted_query(event, fields):
    check = ContactChangedCheck(
        event=event, tags=["vip"], filters=[{"field": "source", "operator": "eq", "value": "web"}]
    )
    args = check.search_args(at(0), at(HOUR))
    assert args["page_limit"] == 500
    assert args["sort"] == [
        {"field": "dateAdded" if event == "created" else "dateUpdated", "direction": "asc"}
    ]
    *rest, window = args["filters"]
    assert rest == [
        {"field": "source", "operator": "eq", "value": "web"},
        {"field": "tags", "operator": "eq", "value": "vip"},
    ]
    ranges = window["filters"] if "group" in window else [window]
    assert [r["field"] for r in ranges] == fields
    assert all(r["operator"] == "range" and r["value"] == {"gte": at(0), "lt": at(HOUR)} for r in ranges)
    if event == "any":
        assert window["group"] == "OR"


def test_a_change_exactly_at_the_boundary_is_reported_by_exactly_one_of_two_runs(fake_hook: FakeHook):
    boundary = 1 * HOUR
    stamps = {
        "before": boundary - 0.001,
        "exact": boundary,
        "after": boundary + 0.001,
        "first": 0,
        "last": 2 * HOUR - 0.001,
    }
    for cid, seconds in stamps.items():
        fake_hook.add(cid, added=at(-HOUR), updated=at(seconds))
    fake_hook.add("next-window", added=at(-HOUR), updated=at(2 * HOUR))
    rng = random.Random(7)
    for i in range(200):
        fake_hook.add(f"r{i}", added=at(-HOUR), updated=at(round(rng.uniform(0, 2 * HOUR), 3)))
    settled = T0 + timedelta(hours=3)

    def run(start: float, end: float) -> list[str]:
        check = ContactChangedCheck(
            event="updated", since=T0 + timedelta(seconds=start), until=T0 + timedelta(seconds=end)
        )
        result = check.evaluate(fake_hook, now=settled)
        assert result.status == "success"
        return result.xcom["contact_ids"]

    first, second = run(0, boundary), run(boundary, 2 * HOUR)
    assert "exact" in second and "exact" not in first
    assert "before" in first and "after" in second and "first" in first and "last" in second
    assert "next-window" not in first + second
    assert not set(first) & set(second)
    assert set(first) | set(second) == {c["id"] for c in fake_hook.contacts} - {"next-window"}


def test_microseconds_at_the_boundary_do_not_split_it(fake_hook: FakeHook):
    boundary = T0 + timedelta(microseconds=123_456)
    fake_hook.add("c", added=at(-HOUR), updated=to_api_time(boundary))
    first = ContactChangedCheck(event="updated", since=T0 - timedelta(hours=1), until=boundary)
    second = ContactChangedCheck(event="updated", since=boundary, until=T0 + timedelta(hours=1))
    later = T0 + timedelta(hours=2)
    assert first.evaluate(fake_hook, now=later).status == "skip"
    assert second.evaluate(fake_hook, now=later).xcom["contact_ids"] == ["c"]


def test_a_bounded_window_waits_for_the_lag_margin_without_any_request(fake_hook: FakeHook):
    until = T0 + timedelta(hours=1)
    # Written 1 ms before the end of the window, visible to search only 5 s after it.
    fake_hook.add("late", added=at(-HOUR), updated=at(HOUR - 0.001), visible_from=at(HOUR + 5))
    fake_hook.add("early", added=at(-HOUR), updated=at(60))
    check = ContactChangedCheck(event="updated", since=T0, until=until, lag_margin=10)

    for seconds in (-60, 0, 5, 9.999):
        fake_hook.clock = until + timedelta(seconds=seconds)
        assert check.evaluate(fake_hook, now=fake_hook.clock).status == "waiting"
    assert fake_hook.requests == 0

    fake_hook.clock = until + timedelta(seconds=10)
    result = check.evaluate(fake_hook, now=fake_hook.clock)
    assert result.status == "success"
    assert sorted(result.xcom["contact_ids"]) == ["early", "late"]
    assert result.xcom["window"] == {"start": at(0), "end": at(HOUR)}
    assert fake_hook.requests == 1


def test_without_the_margin_the_late_change_would_have_been_missed(fake_hook: FakeHook):
    fake_hook.add("late", added=at(-HOUR), updated=at(HOUR - 0.001), visible_from=at(HOUR + 5))
    fake_hook.clock = T0 + timedelta(hours=1, seconds=1)
    check = ContactChangedCheck(event="updated", since=T0, until=T0 + timedelta(hours=1), lag_margin=0)
    assert check.evaluate(fake_hook, now=fake_hook.clock).status == "skip"  # the reason for lag_margin


@pytest.mark.parametrize(("on_empty", "status"), [("skip", "skip"), ("fail", "fail"), ("succeed", "success")])
def test_a_settled_window_with_too_few_changes_is_final(fake_hook: FakeHook, on_empty, status):
    fake_hook.add("one", added=at(10))
    check = ContactChangedCheck(event="created", since=T0, until=at(HOUR), min_count=2, on_empty=on_empty)
    result = check.evaluate(fake_hook, now=T0 + timedelta(hours=2))
    assert result.status == status
    assert result.xcom["contact_ids"] == ["one"]


def test_an_open_window_reports_up_to_now_minus_the_margin(fake_hook: FakeHook):
    fake_hook.add("old", added=at(-10))
    fake_hook.add("fresh", added=at(95))
    check = ContactChangedCheck(event="created", since=T0, lag_margin=10)
    assert check.evaluate(fake_hook, now=T0 + timedelta(seconds=100)).status == "waiting"
    result = check.evaluate(fake_hook, now=T0 + timedelta(seconds=106))
    assert result.status == "success"
    assert result.xcom["contact_ids"] == ["fresh"]
    assert result.xcom["window"] == {"start": at(0), "end": at(96)}
    assert result.xcom["contacts"][0]["change"] == "created"


def test_any_reports_creations_and_updates_and_says_which(fake_hook: FakeHook):
    fake_hook.add("created", added=at(10), updated=at(7200))  # created in the window, updated after it
    fake_hook.add("updated", added=at(-HOUR), updated=at(20))
    fake_hook.add("untouched", added=at(-HOUR), updated=at(-60))
    check = ContactChangedCheck(event="any", since=T0, until=at(HOUR))
    result = check.evaluate(fake_hook, now=T0 + timedelta(hours=3))
    changes = {c["id"]: c["change"] for c in result.xcom["contacts"]}
    assert changes == {"created": "created", "updated": "updated"}


def test_tags_and_filters_narrow_the_changes(fake_hook: FakeHook):
    fake_hook.add("vip", added=at(10), tags=["vip", "x"])
    fake_hook.add("plain", added=at(11), tags=["x"])
    check = ContactChangedCheck(event="created", since=T0, until=at(60), tags="vip")
    assert check.evaluate(fake_hook, now=T0 + timedelta(hours=1)).xcom["contact_ids"] == ["vip"]


def test_changes_cost_one_request_per_500(fake_hook: FakeHook):
    for i in range(2000):
        fake_hook.add(f"c{i:04d}", added=at(-HOUR), updated=at(i))
    result = ContactChangedCheck(event="updated", since=T0, until=at(HOUR)).evaluate(
        fake_hook, now=T0 + timedelta(hours=2)
    )
    assert result.xcom["count"] == 2000
    assert fake_hook.requests == 4
    assert result.xcom["contact_ids"][:2] == ["c0000", "c0001"]  # in change order


def test_changed_check_validates_and_round_trips():
    with pytest.raises(ContactsConfigError):
        ContactChangedCheck(event="deleted")
    with pytest.raises(ContactsConfigError):
        ContactChangedCheck(on_empty="ignore")
    with pytest.raises(ContactsConfigError):
        ContactChangedCheck(since=at(10), until=at(0))
    with pytest.raises(ContactsConfigError):
        ContactChangedCheck(min_count=0)
    check = ContactChangedCheck(
        event="updated", since=T0, until="2026-03-01T13:00:00Z", lag_margin=timedelta(seconds=3), tags="a,b"
    )
    kwargs = check.serialize()
    assert (
        kwargs["since"] == "2026-03-01T12:00:00.000Z"
        and kwargs["lag_margin"] == 3.0
        and kwargs["tags"] == ["a", "b"]
    )
    assert ContactChangedCheck(**kwargs) == check


# -------------------------------------------------------------------------------------- other checks


def test_search_check_counts_up_to_min_count_and_stops_paging(fake_hook: FakeHook):
    for i in range(1200):
        fake_hook.add(f"c{i}", added=at(i), email=f"{i}@x.test")
    check = ContactSearchCheck(query="x.test", min_count=3, max_results=3)
    result = check.evaluate(fake_hook)
    assert result.status == "success" and result.xcom["count"] == 3 and result.xcom["truncated"]
    assert fake_hook.requests == 1 and fake_hook.searches[0]["page_limit"] == 3
    assert result.xcom["contacts"][0] == {"id": "c0", "email": "0@x.test"}
    assert (
        ContactSearchCheck(filters=[{"field": "tags", "operator": "eq", "value": "none"}])
        .evaluate(fake_hook)
        .status
        == "waiting"
    )


def test_duplicate_check(fake_hook: FakeHook):
    check = DuplicateContactCheck(email="a@x.test")
    assert check.evaluate(fake_hook).status == "waiting"
    fake_hook.duplicate = {"id": "c9", "email": "a@x.test", "customFields": []}
    result = check.evaluate(fake_hook)
    assert result.xcom == {"contact_id": "c9", "contact": {"id": "c9", "email": "a@x.test"}}
    with pytest.raises(ContactsConfigError):
        DuplicateContactCheck()


def test_task_check_new_completed_and_due_over_many_contacts(fake_hook: FakeHook):
    fake_hook.tasks = {
        "c1": [
            {"id": "t1", "title": "call", "dueDate": at(-60), "completed": False, "dateAdded": at(-HOUR)},
            {"id": "t2", "title": "mail", "dueDate": at(HOUR), "completed": True, "dateAdded": at(30)},
        ],
        "c2": [{"id": "t3", "title": "visit", "dueDate": at(HOUR), "completed": False, "dateAdded": at(40)}],
    }
    new = ContactTaskCheck(contact_ids="c1,c2", condition="new", since=T0).evaluate(fake_hook, now=T0)
    assert new.xcom["task_ids"] == ["t2", "t3"] and fake_hook.requests == 2
    assert new.xcom["tasks"][1] == {
        "id": "t3",
        "contactId": "c2",
        "title": "visit",
        "dueDate": at(HOUR),
        "completed": False,
        "dateAdded": at(40),
    }
    done = ContactTaskCheck(contact_ids=["c1", "c2"], condition="completed").evaluate(fake_hook)
    assert done.xcom["task_ids"] == ["t2"]
    due = ContactTaskCheck(contact_ids=["c1", "c2"], condition="due").evaluate(fake_hook, now=T0)
    assert due.xcom["task_ids"] == ["t1"]
    due_later = ContactTaskCheck(contact_ids=["c1", "c2"], condition="due", due_before=at(2 * HOUR))
    assert due_later.evaluate(fake_hook, now=T0).xcom["task_ids"] == ["t1", "t3"]
    waiting = ContactTaskCheck(contact_ids="c1", condition="completed", task_ids=["t1"]).evaluate(fake_hook)
    assert waiting.status == "waiting"
    excluded = ContactTaskCheck(contact_ids="c1,c2", condition="new", exclude_ids=["t2", "t3"], since=None)
    assert excluded.evaluate(fake_hook).xcom["task_ids"] == ["t1"]
    with pytest.raises(ContactsConfigError):
        ContactTaskCheck(contact_ids="c1", condition="overdue")
    with pytest.raises(ContactsConfigError):
        ContactTaskCheck(contact_ids="")


def test_note_check_counts_notes_since(fake_hook: FakeHook):
    fake_hook.notes = {
        "c1": [
            {"id": "n1", "body": "old", "dateAdded": at(-1)},
            {"id": "n2", "body": "new", "dateAdded": at(0)},
        ]
    }
    check = ContactNoteCheck(contact_ids="c1", since=T0)
    assert check.evaluate(fake_hook).xcom["notes"] == [
        {"id": "n2", "contactId": "c1", "dateAdded": at(0), "body": "new"}
    ]
    assert ContactNoteCheck(contact_ids="c1", since=T0, min_count=2).evaluate(fake_hook).status == "waiting"


def test_appointment_check_window_and_status(fake_hook: FakeHook):
    fake_hook.appointments = {
        "c1": [
            {"id": "a1", "startTime": "2026-03-01 12:30:00", "appointmentStatus": "confirmed"},
            {"id": "a2", "startTime": "2026-03-01 14:00:00", "appointmentStatus": "confirmed"},
            {"id": "a3", "startTime": "2026-03-01 12:45:00", "status": "cancelled"},
        ]
    }
    check = ContactAppointmentCheck(contact_ids="c1", start=T0, end=at(2 * HOUR), statuses="Confirmed")
    assert check.evaluate(fake_hook).xcom["appointment_ids"] == ["a1"]
    assert ContactAppointmentCheck(contact_ids="c1").evaluate(fake_hook).xcom["count"] == 3


def test_business_check_since_and_exclusions(fake_hook: FakeHook):
    fake_hook.business = {"b1": [{"id": f"c{i}", "dateAdded": at(i - 100)} for i in range(250)]}
    all_members = BusinessContactsCheck(business_id="b1", min_count=250, max_results=1000).evaluate(fake_hook)
    assert all_members.status == "success" and all_members.xcom["count"] == 250 and fake_hook.requests == 3
    new = BusinessContactsCheck(business_id="b1", since=T0, exclude_ids=["c100"], max_results=1000).evaluate(
        fake_hook
    )
    assert new.xcom["contact_ids"][0] == "c101" and new.xcom["count"] == 149
    assert BusinessContactsCheck(business_id="b1", since=at(HOUR)).evaluate(fake_hook).status == "waiting"
    with pytest.raises(ContactsConfigError):
        BusinessContactsCheck(business_id="")

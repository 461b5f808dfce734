"""The sensors over the real hook's HTTP (requests-mock), in poke, reschedule and deferrable modes."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from airflow.triggers.base import BaseEventTrigger

from airflow_provider_contacts.exceptions import ContactsError
from airflow_provider_contacts.sensors import (
    BusinessContactsSensor,
    ContactAppointmentSensor,
    ContactChangedSensor,
    ContactNoteSensor,
    ContactSearchSensor,
    ContactTaskSensor,
    DuplicateContactSensor,
)
from airflow_provider_contacts.triggers import (
    BusinessContactsTrigger,
    ContactAppointmentTrigger,
    ContactChangedPollTrigger,
    ContactNoteTrigger,
    ContactSearchTrigger,
    ContactTaskTrigger,
    DuplicateContactTrigger,
)
from airflow_provider_contacts.triggers.checks import to_api_time

BASE = "https://api.test"
SEARCH = f"{BASE}/contacts/search"
DUPLICATE = f"{BASE}/contacts/search/duplicate"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
# A closed, settled hour: the run's data interval of most tests.
START, END = NOW - timedelta(hours=2), NOW - timedelta(hours=1)


@pytest.fixture(autouse=True)
def contacts_conn(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {
        "auth_type": "private_token",
        "location_id": "loc1",
        "scopes": "contacts.readonly",
        "retry_backoff": 0,
        "max_retries": 0,
    }
    conn = {"conn_type": "contacts", "host": BASE, "password": "pit-test-token", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", json.dumps(conn))


def context(**values: Any) -> dict[str, Any]:
    ti = SimpleNamespace(get_first_reschedule_date=lambda ctx: None)
    return {"data_interval_start": START, "data_interval_end": END, "ti": ti, "task_instance": ti, **values}


def contact(cid: str, updated: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "dateAdded": to_api_time(START - timedelta(days=1)),
        "dateUpdated": to_api_time(updated),
        **fields,
    }


def search_answer(*contacts: dict[str, Any]) -> dict[str, Any]:
    return {"json": {"contacts": list(contacts), "total": len(contacts), "traceId": "t"}}


def sensor_kwargs(**kwargs: Any) -> dict[str, Any]:
    return {"task_id": "wait", "poke_interval": 0, "timeout": 60, **kwargs}


# -------------------------------------------------------------------------------------- run window


def test_changed_sensor_pokes_one_ranged_search_and_returns_ids(requests_mock):
    requests_mock.post(
        SEARCH,
        **search_answer(contact("c1", START + timedelta(minutes=5), email="a@x.test", customFields=[1])),
    )
    sensor = ContactChangedSensor(**sensor_kwargs(event="updated", tags=["vip"]))
    result = sensor.poke(context())
    assert isinstance(result, PokeReturnValue) and result.is_done
    assert result.xcom_value["contact_ids"] == ["c1"]
    assert result.xcom_value["window"] == {"start": to_api_time(START), "end": to_api_time(END)}
    assert "customFields" not in result.xcom_value["contacts"][0]
    json.dumps(result.xcom_value)
    body = requests_mock.last_request.json()
    assert body["locationId"] == "loc1" and body["pageLimit"] == 500
    assert body["sort"] == [{"field": "dateUpdated", "direction": "asc"}]
    assert {"field": "tags", "operator": "eq", "value": "vip"} in body["filters"]
    assert {
        "field": "dateUpdated",
        "operator": "range",
        "value": {"gte": to_api_time(START), "lt": to_api_time(END)},
    } in body["filters"]
    assert requests_mock.call_count == 1


def test_changed_sensor_waits_for_the_lag_margin_without_requests(requests_mock):
    requests_mock.post(SEARCH, **search_answer())
    until = datetime.now(timezone.utc) + timedelta(minutes=5)
    sensor = ContactChangedSensor(**sensor_kwargs(since=START, until=until))
    assert not sensor.poke(context())
    assert requests_mock.call_count == 0


def test_templated_window(requests_mock):
    created = contact("c1", START + timedelta(minutes=1), dateAdded=to_api_time(START + timedelta(minutes=1)))
    requests_mock.post(SEARCH, **search_answer(created))
    sensor = ContactChangedSensor(
        **sensor_kwargs(since="{{ data_interval_start }}", until="{{ data_interval_end }}", event="created")
    )
    ctx = context()
    sensor.render_template_fields(ctx)
    assert sensor.since == str(START)
    assert sensor.poke(ctx).xcom_value["contact_ids"] == ["c1"]
    window = requests_mock.last_request.json()["filters"][-1]
    assert window == {
        "field": "dateAdded",
        "operator": "range",
        "value": {"gte": to_api_time(START), "lt": to_api_time(END)},
    }


def test_poke_mode_loops_until_found(requests_mock):
    requests_mock.post(SEARCH, [search_answer(), search_answer(), search_answer(contact("c9", NOW))])
    sensor = ContactChangedSensor(**sensor_kwargs(since=START, lag_margin=0))
    assert sensor.execute(context())["contact_ids"] == ["c9"]
    assert requests_mock.call_count == 3


def test_closed_empty_window_skips_fails_or_succeeds(requests_mock):
    requests_mock.post(SEARCH, **search_answer())
    with pytest.raises(AirflowSkipException):
        ContactChangedSensor(**sensor_kwargs()).execute(context())
    with pytest.raises(AirflowFailException):
        ContactChangedSensor(**sensor_kwargs(on_empty="fail")).execute(context())
    with pytest.raises(AirflowSkipException):  # soft_fail turns the failure into a skip
        ContactChangedSensor(**sensor_kwargs(on_empty="fail", soft_fail=True)).execute(context())
    assert ContactChangedSensor(**sensor_kwargs(on_empty="succeed")).execute(context())["count"] == 0


def test_reschedule_mode_frees_the_slot_until_found(requests_mock):
    requests_mock.post(SEARCH, [search_answer(), search_answer(contact("c2", NOW))])
    sensor = ContactChangedSensor(
        **sensor_kwargs(since=START, lag_margin=0, mode="reschedule", poke_interval=30)
    )
    with pytest.raises(AirflowRescheduleException) as rescheduled:
        sensor.execute(context())
    assert rescheduled.value.reschedule_date > datetime.now(timezone.utc) + timedelta(seconds=20)
    assert sensor.execute(context())["contact_ids"] == ["c2"]


def test_timeout_and_soft_fail_in_poke_mode(requests_mock):
    requests_mock.post(SEARCH, **search_answer())
    sensor = ContactSearchSensor(**sensor_kwargs(query="nobody", timeout=0))
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute(context())
    with pytest.raises(AirflowSkipException):
        ContactSearchSensor(**sensor_kwargs(query="nobody", timeout=0, soft_fail=True)).execute(context())


def test_api_errors_fail_the_poke(requests_mock):
    requests_mock.post(SEARCH, status_code=422, json={"statusCode": 422, "message": ["bad filter"]})
    with pytest.raises(ContactsError, match="bad filter"):
        ContactSearchSensor(**sensor_kwargs(query="x")).poke(context())


# -------------------------------------------------------------------------------------- deferrable


def test_deferrable_returns_at_once_when_already_met(requests_mock):
    requests_mock.post(SEARCH, **search_answer(contact("c1", START + timedelta(minutes=1))))
    sensor = ContactChangedSensor(**sensor_kwargs(deferrable=True))
    assert sensor.execute(context())["contact_ids"] == ["c1"]


def test_deferrable_defers_to_the_trigger_with_the_same_check(requests_mock):
    requests_mock.post(SEARCH, **search_answer())
    sensor = ContactChangedSensor(
        **sensor_kwargs(
            deferrable=True,
            since=START,
            event="created",
            tags="vip",
            timeout=600,
            poke_interval=15,
            exponential_backoff=True,
            max_wait=120,
            lag_margin=timedelta(seconds=3),
        )
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, ContactChangedPollTrigger) and deferred.value.method_name == "execute_complete"
    # The deferral trigger is not an event trigger: the triggerer does not count it as an asset watcher.
    assert not isinstance(trigger, BaseEventTrigger)
    assert trigger.check == sensor.build_check(context())
    assert trigger.check.lag_margin == 3 and trigger.check.tags == ["vip"] and trigger.check.until is None
    assert trigger.poll_interval == 15 and trigger.exponential_backoff and trigger.max_wait == 120
    assert before + 600 <= trigger.end_time <= time.time() + 600
    assert deferred.value.timeout > timedelta(seconds=600)  # a backstop behind the trigger's own timeout


DEFERRALS = [
    (ContactSearchSensor(**sensor_kwargs(query="x")), ContactSearchTrigger, "POST", SEARCH, search_answer()),
    (
        DuplicateContactSensor(**sensor_kwargs(email="a@x.test")),
        DuplicateContactTrigger,
        "GET",
        DUPLICATE,
        {"json": {}},
    ),
    (
        ContactTaskSensor(**sensor_kwargs(contact_ids="c1")),
        ContactTaskTrigger,
        "GET",
        f"{BASE}/contacts/c1/tasks",
        {"json": {"tasks": []}},
    ),
    (
        ContactNoteSensor(**sensor_kwargs(contact_ids="c1")),
        ContactNoteTrigger,
        "GET",
        f"{BASE}/contacts/c1/notes",
        {"json": {"notes": []}},
    ),
    (
        ContactAppointmentSensor(**sensor_kwargs(contact_ids="c1")),
        ContactAppointmentTrigger,
        "GET",
        f"{BASE}/contacts/c1/appointments",
        {"json": {"events": []}},
    ),
    (
        BusinessContactsSensor(**sensor_kwargs(business_id="b1")),
        BusinessContactsTrigger,
        "GET",
        f"{BASE}/contacts/business/b1",
        {"json": {"contacts": [], "count": 0}},
    ),
]


@pytest.mark.parametrize(
    ("sensor", "trigger_class", "method", "url", "answer"), DEFERRALS, ids=[d[1].__name__ for d in DEFERRALS]
)
def test_every_sensor_defers_to_its_trigger(requests_mock, sensor, trigger_class, method, url, answer):
    requests_mock.register_uri(method, url, **answer)
    sensor.deferrable = True
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context())
    assert type(deferred.value.trigger) is trigger_class
    assert deferred.value.trigger.check == sensor.build_check(context())
    assert requests_mock.call_count == 1  # the one evaluation in the task before deferring


def test_execute_complete_maps_every_event():
    sensor = ContactChangedSensor(**sensor_kwargs(deferrable=True))
    assert sensor.execute_complete(context(), {"status": "success", "xcom": {"count": 1}}) == {"count": 1}
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete(context(), {"status": "timeout", "message": "late"})
    with pytest.raises(ContactsError, match="HTTP 500"):
        sensor.execute_complete(context(), {"status": "error", "message": "HTTP 500"})
    with pytest.raises(AirflowSkipException):
        sensor.execute_complete(context(), {"status": "skip", "message": "empty"})
    with pytest.raises(AirflowFailException):
        sensor.execute_complete(context(), {"status": "fail", "message": "empty"})
    with pytest.raises(ContactsError):
        sensor.execute_complete(context(), None)


def test_soft_fail_skips_a_deferred_timeout_through_resume_execution():
    sensor = ContactChangedSensor(**sensor_kwargs(deferrable=True, soft_fail=True))
    with pytest.raises(AirflowSkipException):
        sensor.resume_execution(
            "execute_complete", {"event": {"status": "timeout", "message": "late"}}, context()
        )


def test_no_window_start_is_refused_rather_than_scanning_everything(requests_mock):
    with pytest.raises(ContactsError, match="since"):
        ContactChangedSensor(**sensor_kwargs()).poke({})
    assert requests_mock.call_count == 0


def test_bad_arguments_fail_at_parse_time():
    with pytest.raises(ValueError):
        ContactChangedSensor(task_id="x", event="deleted")
    with pytest.raises(ValueError):
        DuplicateContactSensor(task_id="x")


# ----------------------------------------------------------------------------------- other sensors


def test_search_sensor(requests_mock):
    requests_mock.post(SEARCH, **search_answer({"id": "c1", "email": "a@x.test"}, {"id": "c2"}))
    sensor = ContactSearchSensor(
        **sensor_kwargs(filters=[{"field": "tags", "operator": "eq", "value": "x"}], min_count=2)
    )
    result = sensor.poke(context())
    assert result.is_done and result.xcom_value["contact_ids"] == ["c1", "c2"]
    assert requests_mock.last_request.json()["filters"] == [{"field": "tags", "operator": "eq", "value": "x"}]
    assert not ContactSearchSensor(**sensor_kwargs(query="x", min_count=3)).poke(context())


def test_duplicate_sensor(requests_mock):
    requests_mock.get(
        DUPLICATE, [{"json": {"contact": None}}, {"json": {"contact": {"id": "c5", "phone": "+1555"}}}]
    )
    sensor = DuplicateContactSensor(**sensor_kwargs(phone="+1555"))
    assert sensor.execute(context()) == {"contact_id": "c5", "contact": {"id": "c5", "phone": "+1555"}}
    assert requests_mock.last_request.qs["number"] == ["+1555"]


def test_task_sensor_one_request_per_contact(requests_mock):
    requests_mock.get(
        f"{BASE}/contacts/c1/tasks", json={"tasks": [{"id": "t1", "completed": True, "title": "a"}]}
    )
    requests_mock.get(
        f"{BASE}/contacts/c2/tasks", json={"tasks": [{"id": "t2", "completed": False, "title": "b"}]}
    )
    sensor = ContactTaskSensor(**sensor_kwargs(contact_ids="c1,c2", condition="completed"))
    result = sensor.poke(context())
    assert result.xcom_value["task_ids"] == ["t1"] and result.xcom_value["tasks"][0]["contactId"] == "c1"
    assert requests_mock.call_count == 2


def test_task_sensor_new_defaults_to_the_run_window(requests_mock):
    tasks = [
        {"id": "old", "dateAdded": to_api_time(START - timedelta(seconds=1))},
        {"id": "new", "dateAdded": to_api_time(START)},
    ]
    requests_mock.get(f"{BASE}/contacts/c1/tasks", json={"tasks": tasks})
    result = ContactTaskSensor(**sensor_kwargs(contact_ids=["c1"])).poke(context())
    assert result.xcom_value["task_ids"] == ["new"]


def test_note_sensor(requests_mock):
    notes = [{"id": "n1", "body": "hello", "dateAdded": to_api_time(START + timedelta(seconds=1))}]
    requests_mock.get(f"{BASE}/contacts/c1/notes", json={"notes": notes})
    result = ContactNoteSensor(**sensor_kwargs(contact_ids="c1")).poke(context())
    assert result.xcom_value["note_ids"] == ["n1"]
    assert not ContactNoteSensor(**sensor_kwargs(contact_ids="c1", since=NOW)).poke(context())


def test_appointment_sensor(requests_mock):
    events = [{"id": "a1", "startTime": "2030-01-01 10:00:00", "appointmentStatus": "confirmed"}]
    requests_mock.get(f"{BASE}/contacts/c1/appointments", json={"events": events})
    sensor = ContactAppointmentSensor(
        **sensor_kwargs(contact_ids="c1", start="2030-01-01", statuses=["confirmed"])
    )
    assert sensor.poke(context()).xcom_value["appointment_ids"] == ["a1"]
    assert not ContactAppointmentSensor(**sensor_kwargs(contact_ids="c1", statuses="cancelled")).poke(
        context()
    )


def test_business_sensor(requests_mock):
    requests_mock.get(
        f"{BASE}/contacts/business/b1", json={"contacts": [{"id": "c1"}, {"id": "c2"}], "count": 2}
    )
    sensor = BusinessContactsSensor(**sensor_kwargs(business_id="b1", min_count=2, exclude_contact_ids="c0"))
    assert sensor.poke(context()).xcom_value["contact_ids"] == ["c1", "c2"]
    assert requests_mock.last_request.qs["locationid"] == ["loc1"]


def test_the_sensors_package_exports_sensors_only():
    import airflow_provider_contacts.sensors as sensors

    assert "run_window" not in sensors.__all__ and not hasattr(sensors, "run_window")

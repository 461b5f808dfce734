"""Triggers: serialisation round trips, events, errors, the event loop, and the asset watcher's watermark."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk._shared.module_loading import import_string
from airflow.triggers.base import BaseEventTrigger

from airflow_provider_contacts.exceptions import ContactsApiError
from airflow_provider_contacts.triggers import contacts as module
from airflow_provider_contacts.triggers.checks import CheckResult
from airflow_provider_contacts.triggers.contacts import (
    BusinessContactsTrigger,
    ContactAppointmentTrigger,
    ContactChangedPollTrigger,
    ContactChangedTrigger,
    ContactNoteTrigger,
    ContactSearchTrigger,
    ContactsPollTrigger,
    ContactTaskTrigger,
    DuplicateContactTrigger,
    poll_intervals,
)

from .fakes import T0, FakeHook, at

TRIGGERS = [
    (ContactChangedPollTrigger, {"event": "updated", "since": T0, "until": at(3600), "tags": ["vip"]}),
    (ContactChangedTrigger, {"event": "updated", "tags": ["vip"]}),
    (ContactSearchTrigger, {"filters": [{"field": "tags", "operator": "eq", "value": "x"}], "min_count": 2}),
    (DuplicateContactTrigger, {"email": "a@x.test"}),
    (ContactTaskTrigger, {"contact_ids": "c1,c2", "condition": "due", "due_before": at(60)}),
    (ContactNoteTrigger, {"contact_ids": ["c1"], "since": at(0)}),
    (ContactAppointmentTrigger, {"contact_ids": ["c1"], "start": at(0), "statuses": ["confirmed"]}),
    (BusinessContactsTrigger, {"business_id": "b1", "since": at(0), "exclude_ids": ["c3"]}),
]


@pytest.fixture
def use_fake_hook(monkeypatch: pytest.MonkeyPatch, fake_hook: FakeHook) -> FakeHook:
    monkeypatch.setattr(ContactsPollTrigger, "_hook", lambda self: fake_hook)
    return fake_hook


async def first_event(trigger: ContactsPollTrigger) -> dict[str, Any]:
    events = [event.payload async for event in trigger.run()]
    assert len(events) == 1, events
    return events[0]


@pytest.mark.parametrize(("cls", "kwargs"), TRIGGERS, ids=[c.__name__ for c, _ in TRIGGERS])
def test_serialize_round_trips_through_json(cls, kwargs):
    trigger = cls(
        contacts_conn_id="crm",
        poll_interval=7,
        end_time=1234.5,
        exponential_backoff=True,
        max_wait=60,
        **kwargs,
    )
    classpath, serialized = trigger.serialize()
    assert import_string(classpath) is cls
    rebuilt = import_string(classpath)(**json.loads(json.dumps(serialized)))
    assert rebuilt.serialize() == (classpath, serialized)
    assert rebuilt.check == trigger.check
    assert serialized["contacts_conn_id"] == "crm" and serialized["poll_interval"] == 7.0
    assert (
        serialized["end_time"] == 1234.5
        and serialized["exponential_backoff"]
        and serialized["max_wait"] == 60.0
    )


def test_changed_trigger_is_an_event_trigger_for_asset_watchers():
    assert issubclass(ContactChangedTrigger, BaseEventTrigger)
    trigger = ContactChangedTrigger(event="any")
    assert trigger.asset_state_store is None  # set by the triggerer
    assert trigger.shared_stream_key() is not None  # a watcher
    # Watchers are identified by the hash of their kwargs: it must be stable for identical triggers.
    assert BaseEventTrigger.hash(*trigger.serialize()) == BaseEventTrigger.hash(
        *ContactChangedTrigger(event="any").serialize()
    )


def test_changed_trigger_serialises_inside_an_asset_watcher_of_a_dag():
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, Asset, AssetWatcher
    from airflow.serialization.serialized_objects import DagSerialization

    trigger = ContactChangedTrigger(event="any", tags=["vip"], poll_interval=30)
    asset = Asset("contacts_changed", watchers=[AssetWatcher(name="contacts", trigger=trigger)])
    with DAG("on_contacts_changed", schedule=[asset]) as dag:
        EmptyOperator(task_id="noop")
    text = json.dumps(DagSerialization.serialize_dag(dag))
    classpath, kwargs = trigger.serialize()
    assert classpath in text and '"tags": ["vip"]' in text
    assert import_string(classpath)(**kwargs).serialize() == (classpath, kwargs)


def test_poll_intervals_back_off_up_to_max_wait():
    def first(n, *args):
        gen = poll_intervals(*args)
        return [next(gen) for _ in range(n)]

    assert first(3, 5) == [5, 5, 5]
    assert first(5, 5, True, 30) == [5, 10, 20, 30, 30]
    assert first(3, 1, True, None) == [1, 2, 4]


async def test_success_event_carries_the_result(use_fake_hook: FakeHook):
    use_fake_hook.duplicate = {"id": "c1", "email": "a@x.test"}
    event = await first_event(DuplicateContactTrigger(email="a@x.test", poll_interval=0))
    assert event["status"] == "success"
    assert event["xcom"] == {"contact_id": "c1", "contact": {"id": "c1", "email": "a@x.test"}}


async def test_polls_until_the_condition_holds(use_fake_hook: FakeHook, monkeypatch: pytest.MonkeyPatch):
    calls = []
    original = use_fake_hook.find_duplicate_contact

    def appears_on_third_poll(**kwargs):
        calls.append(kwargs)
        if len(calls) == 3:
            use_fake_hook.duplicate = {"id": "c7"}
        return original(**kwargs)

    monkeypatch.setattr(use_fake_hook, "find_duplicate_contact", appears_on_third_poll)
    event = await first_event(DuplicateContactTrigger(phone="+14155550100", poll_interval=0))
    assert event["xcom"]["contact_id"] == "c7" and len(calls) == 3


async def test_timeout_event_at_end_time(use_fake_hook: FakeHook):
    trigger = DuplicateContactTrigger(email="nobody@x.test", poll_interval=3600, end_time=time.time() - 1)
    event = await first_event(trigger)
    assert event["status"] == "timeout" and "timeout" in event["message"]
    assert use_fake_hook.requests == 0  # gave up at once instead of sleeping an hour


async def test_the_last_wait_is_cut_to_end_time_and_followed_by_one_last_evaluation(use_fake_hook: FakeHook):
    trigger = DuplicateContactTrigger(email="nobody@x.test", poll_interval=3600, end_time=time.time() + 0.01)
    event = await first_event(trigger)
    assert event["status"] == "timeout" and use_fake_hook.requests == 1


async def test_an_exception_becomes_an_error_event(use_fake_hook: FakeHook):
    use_fake_hook.fail_with = ContactsApiError(
        "boom", status=500, method="GET", path="/contacts/search/duplicate"
    )
    event = await first_event(DuplicateContactTrigger(email="a@x.test", poll_interval=0))
    assert event["status"] == "error"
    assert "ContactsApiError" in event["message"] and "HTTP 500" in event["message"]


async def test_a_closed_empty_window_ends_with_skip(use_fake_hook: FakeHook):
    trigger = ContactChangedPollTrigger(
        event="created", since=at(0), until=at(60), lag_margin=0, poll_interval=0
    )
    event = await first_event(trigger)
    assert event["status"] == "skip" and event["xcom"]["count"] == 0


async def test_deferred_changed_trigger_reports_its_window(use_fake_hook: FakeHook):
    use_fake_hook.add("c1", added=at(-60), updated=at(30), email="a@x.test")
    trigger = ContactChangedPollTrigger(
        event="updated", since=at(0), until=at(60), lag_margin=0, poll_interval=0
    )
    event = await first_event(trigger)
    assert event["status"] == "success" and event["xcom"]["contact_ids"] == ["c1"]


async def test_evaluation_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch):
    """A blocking evaluation must leave the loop free: here the loop itself releases it."""
    release = threading.Event()

    def blocking_evaluate(self, hook, now=None):
        assert release.wait(timeout=30), "the event loop was blocked"
        return CheckResult("success", {"ok": True})

    monkeypatch.setattr(module.DuplicateContactCheck, "evaluate", blocking_evaluate)
    monkeypatch.setattr(ContactsPollTrigger, "_hook", lambda self: None)

    async def release_from_the_loop():
        release.set()

    trigger = DuplicateContactTrigger(email="a@x.test", poll_interval=0)
    event, _ = await asyncio.gather(first_event(trigger), release_from_the_loop())
    assert event["xcom"] == {"ok": True}


# ---------------------------------------------------------------------------------- asset watcher


class MemoryStore:
    """The async half of Airflow's AssetStateStoreAccessors, in memory."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.data.get(key, default)))

    async def aset(self, key: str, value: Any) -> None:
        self.writes += 1
        self.data[key] = json.loads(json.dumps(value))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(module, "utcnow", clock)
    return clock


def watcher(store: MemoryStore | None, **kwargs: Any) -> ContactChangedTrigger:
    trigger = ContactChangedTrigger(event="any", lag_margin=10, poll_interval=0, **kwargs)
    trigger.asset_state_store = store
    return trigger


def test_advance_reports_each_change_once_and_keeps_only_the_tail():
    trigger = ContactChangedTrigger(event="updated", lag_margin=10)
    a = {"id": "a", "dateAdded": at(0), "dateUpdated": at(5)}
    b = {"id": "b", "dateAdded": at(0), "dateUpdated": at(18)}
    new, mark = trigger.advance({"since": at(0), "seen": {}}, [a, b], T0 + timedelta(seconds=20))
    assert [c["id"] for c in new] == ["a", "b"]
    assert mark == {"since": at(10), "seen": {"b": at(18)}}  # a is older than the settled bound
    # The next poll re-reads the tail [10 s, now): b again, unchanged -> not new; b updated -> new.
    new, mark2 = trigger.advance(mark, [b], T0 + timedelta(seconds=25))
    assert new == [] and mark2 == {"since": at(15), "seen": {"b": at(18)}}
    b2 = {**b, "dateUpdated": at(24)}
    new, _ = trigger.advance(mark2, [b2], T0 + timedelta(seconds=30))
    assert [c["dateUpdated"] for c in new] == [at(24)]


async def test_watcher_fires_once_per_batch_and_never_twice_for_a_change(
    use_fake_hook: FakeHook, clock: Clock
):
    store = MemoryStore()
    polls = 0
    original = use_fake_hook.search_contacts

    def scripted(**kwargs):
        nonlocal polls
        polls += 1
        clock.now = T0 + timedelta(seconds=polls)
        if polls == 1:  # a batch of two changes
            use_fake_hook.add("a", added=at(-100), updated=at(0.5))
            use_fake_hook.add("b", added=at(0.7))
        if polls == 4:  # polls 2 and 3 see a and b again (within the lag margin): no event
            use_fake_hook.add("c", added=at(-100), updated=at(3.5))
        return original(**kwargs)

    use_fake_hook.search_contacts = scripted  # type: ignore[method-assign]
    trigger = watcher(store)
    events = trigger.run()
    first = (await anext(events)).payload
    assert first["contact_ids"] == ["a", "b"] and first["count"] == 2
    assert {c["id"]: c["change"] for c in first["contacts"]} == {"a": "updated", "b": "created"}
    second = (await anext(events)).payload
    assert second["contact_ids"] == ["c"] and polls == 4
    await events.aclose()
    saved = store.data[ContactChangedTrigger.WATERMARK_KEY]
    assert set(saved["seen"]) == {"a", "b", "c"}  # all within the last 10 s

    # A restarted watcher (new instance, same store) resumes: a, b, c are not reported again.
    polls = 0
    use_fake_hook.add("d", added=at(-100), updated=at(4))
    restarted = watcher(store).run()
    third = (await anext(restarted)).payload
    assert third["contact_ids"] == ["d"]
    await restarted.aclose()


async def test_watcher_starts_at_since_or_now_and_saves_the_start(use_fake_hook: FakeHook, clock: Clock):
    use_fake_hook.add("before", added=at(-5))
    use_fake_hook.add("after", added=at(1))
    store = MemoryStore()
    events = watcher(store).run()
    assert (await anext(events)).payload["contact_ids"] == ["after"]
    await events.aclose()
    from_since = watcher(MemoryStore(), since=at(-10)).run()
    assert (await anext(from_since)).payload["contact_ids"] == ["before", "after"]
    await from_since.aclose()


async def test_watcher_without_a_usable_state_store_keeps_the_watermark_in_memory(
    use_fake_hook: FakeHook, clock: Clock
):
    class MultiAssetStore:
        async def aget(self, key, default=None):
            raise ValueError("Task has 2 concrete inlets and outlets")

        async def aset(self, key, value):
            raise ValueError("Task has 2 concrete inlets and outlets")

    trigger = watcher(MultiAssetStore())  # type: ignore[arg-type]
    polls = 0
    original = use_fake_hook.search_contacts

    def scripted(**kwargs):
        nonlocal polls
        polls += 1
        if polls in (1, 3):
            use_fake_hook.add(f"p{polls}", added=at(polls / 10))
        return original(**kwargs)

    use_fake_hook.search_contacts = scripted  # type: ignore[method-assign]
    events = trigger.run()
    assert (await anext(events)).payload["contact_ids"] == ["p1"]
    assert (await anext(events)).payload["contact_ids"] == ["p3"]
    await events.aclose()
    assert trigger._memory_watermark is not None


async def test_watcher_retries_failed_polls_then_raises(use_fake_hook: FakeHook, clock: Clock):
    attempts = 0
    original = use_fake_hook.search_contacts

    def flaky(**kwargs):
        nonlocal attempts
        attempts += 1
        use_fake_hook.fail_with = ContactsApiError("down", status=503) if attempts != 2 else None
        return original(**kwargs)

    use_fake_hook.search_contacts = flaky  # type: ignore[method-assign]
    events = watcher(MemoryStore(), max_consecutive_failures=3).run()
    with pytest.raises(ContactsApiError):
        await anext(events)
    # 1 failure, 1 success (resets the count), then 3 failures in a row: no event was ever yielded.
    assert attempts == 5


class FakeSupervisorComms:
    """The triggerer's side of the asset state store messages, keeping values in a dict."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Any] = {}

    async def asend(self, msg: Any) -> Any:
        from airflow.sdk.exceptions import ErrorType
        from airflow.sdk.execution_time.comms import (
            AssetStateStoreResult,
            ErrorResponse,
            GetAssetStateStoreByName,
            SetAssetStateStoreByName,
        )

        if isinstance(msg, GetAssetStateStoreByName):
            if (msg.name, msg.key) in self.values:
                return AssetStateStoreResult(value=self.values[(msg.name, msg.key)])
            return ErrorResponse(error=ErrorType.ASSET_STORE_NOT_FOUND)
        if isinstance(msg, SetAssetStateStoreByName):
            self.values[(msg.name, msg.key)] = msg.value
            return None
        raise AssertionError(f"unexpected message {msg!r}")


async def test_watermark_goes_through_airflows_own_asset_state_store(
    use_fake_hook: FakeHook, clock: Clock, monkeypatch: pytest.MonkeyPatch
):
    """The accessor the 3.3 triggerer injects (AssetStateStoreAccessors), over fake supervisor comms."""
    from airflow.sdk import Asset
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.context import AssetStateStoreAccessors

    comms = FakeSupervisorComms()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    use_fake_hook.add("a", added=at(0.5))
    trigger = ContactChangedTrigger(event="any", lag_margin=10, poll_interval=0)
    trigger.asset_state_store = AssetStateStoreAccessors(inlets=[Asset(name="contacts_changed")])
    events = trigger.run()
    assert (await anext(events)).payload["contact_ids"] == ["a"]
    await events.aclose()
    saved = comms.values[("contacts_changed", ContactChangedTrigger.WATERMARK_KEY)]
    assert saved == {"since": at(0), "seen": {"a": at(0.5)}}

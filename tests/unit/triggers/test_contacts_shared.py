"""The triggers of issue 12: round trips of the new classes, many watchers sharing one poll, and checks
that run on the event loop with their requests awaited over httpx (no thread, no blocked loop)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from airflow._shared.module_loading import import_string
from airflow.triggers.base import BaseEventTrigger

from airflow_provider_contacts.triggers import (
    ContactChangedEventTrigger,
    ContactChangedPollTrigger,
    ContactChangedTrigger,
    ContactsPollTrigger,
    DuplicateContactTrigger,
)
from airflow_provider_contacts.triggers import contacts as module

from .fakes import T0, FakeHook, at
from .test_contacts import MemoryStore


@pytest.fixture
def use_fake_hook(monkeypatch: pytest.MonkeyPatch, fake_hook: FakeHook) -> FakeHook:
    monkeypatch.setattr(ContactsPollTrigger, "_hook", lambda self: fake_hook)
    monkeypatch.setattr(module, "utcnow", lambda: T0)
    return fake_hook


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (ContactChangedPollTrigger, {"event": "created", "since": at(0), "until": at(60), "tags": ["vip"]}),
        (ContactChangedEventTrigger, {"event": "updated", "since": at(0), "max_consecutive_failures": 3}),
    ],
)
def test_new_triggers_round_trip_through_json(cls, kwargs):
    trigger = cls(contacts_conn_id="crm", poll_interval=30, **kwargs)
    classpath, serialized = trigger.serialize()
    rebuilt = import_string(classpath)(**json.loads(json.dumps(serialized)))
    assert import_string(classpath) is cls
    assert rebuilt.serialize() == (classpath, serialized)
    assert rebuilt.check == trigger.check


def test_the_deferral_trigger_is_no_watcher_and_the_event_trigger_is():
    assert not issubclass(ContactChangedPollTrigger, BaseEventTrigger)
    assert issubclass(ContactChangedEventTrigger, BaseEventTrigger)
    assert issubclass(ContactChangedTrigger, ContactChangedEventTrigger), "the old name still watches"


def test_the_old_name_no_longer_defers_a_sensor():
    with pytest.raises(TypeError, match="watch"):
        ContactChangedTrigger(event="any", since=at(0), until=at(60), watch=False)


def test_watchers_that_differ_in_event_and_tags_share_one_stream_key():
    keys = {
        ContactChangedEventTrigger(event=event, tags=tags, poll_interval=60).shared_stream_key()
        for event, tags in (("any", None), ("created", ["vip"]), ("updated", ["a", "b"]))
    }
    assert len(keys) == 1
    other_filters = ContactChangedEventTrigger(
        poll_interval=60, filters=[{"field": "source", "operator": "eq", "value": "web"}]
    )
    assert other_filters.shared_stream_key() not in keys
    assert ContactChangedTrigger(poll_interval=60).shared_stream_key() in keys


async def _one(batch: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield batch


async def test_one_search_feeds_every_watcher_with_its_own_changes(use_fake_hook: FakeHook):
    use_fake_hook.add("new-vip", added=at(1), tags=["vip"])
    use_fake_hook.add("new-plain", added=at(2))
    use_fake_hook.add("old-vip-updated", added=at(-900), updated=at(3), tags=["vip"])
    watchers = {
        "vip": ContactChangedEventTrigger(event="any", tags=["vip"], poll_interval=60, lag_margin=0),
        "created": ContactChangedEventTrigger(event="created", poll_interval=60, lag_margin=0),
        "updated-vip": ContactChangedEventTrigger(
            event="updated", tags=["vip"], poll_interval=60, lag_margin=0
        ),
    }
    stores = {}
    for name, watcher in watchers.items():
        stores[name] = watcher.asset_state_store = MemoryStore()
        await watcher.save_watermark({"since": at(0), "seen": {}})
    stream = ContactChangedEventTrigger.open_shared_stream(watchers["vip"].serialize()[1])
    use_fake_hook.clock = None
    module.utcnow = lambda: T0.replace(second=10)  # type: ignore[assignment]
    try:
        batch = await anext(stream)
    finally:
        await stream.aclose()
    assert use_fake_hook.requests == 1, "one search for all watchers"
    got = {}
    for name, watcher in watchers.items():
        events = [e.payload async for e in watcher.filter_shared_stream(_one(batch))]
        got[name] = sorted(events[0]["contact_ids"]) if events else []
    assert got == {
        "vip": ["new-vip", "old-vip-updated"],
        "created": ["new-plain", "new-vip"],
        "updated-vip": ["new-vip", "old-vip-updated"],
    }
    assert use_fake_hook.requests == 1, "the watchers filtered the shared answer without asking again"
    assert all(ContactChangedEventTrigger.WATERMARK_KEY in store.data for store in stores.values())


async def test_the_shared_poll_goes_ahead_of_queued_requests(
    use_fake_hook: FakeHook, monkeypatch: pytest.MonkeyPatch
):
    from airflow_provider_contacts.transport import limiter

    urgent_during_search: list[bool] = []
    search = use_fake_hook.search_contacts

    def recording_search(*args: Any, **kwargs: Any) -> Any:
        urgent_during_search.append(limiter._URGENT.get())
        return search(*args, **kwargs)

    monkeypatch.setattr(use_fake_hook, "search_contacts", recording_search)
    stream = ContactChangedEventTrigger.open_shared_stream(
        ContactChangedEventTrigger(event="any", poll_interval=60).serialize()[1]
    )
    try:
        await anext(stream)
    finally:
        await stream.aclose()
    assert urgent_during_search and all(urgent_during_search)
    assert limiter._URGENT.get() is False, "only the poll's own requests were urgent"


async def test_a_watcher_older_than_the_stream_fetches_its_gap_once(use_fake_hook: FakeHook):
    use_fake_hook.add("in-gap", added=at(5))
    watcher = ContactChangedEventTrigger(event="any", poll_interval=60, lag_margin=0)
    watcher.asset_state_store = MemoryStore()
    await watcher.save_watermark({"since": at(0), "seen": {}})
    batch = {"start": at(30), "polled_at": T0.replace(second=40), "contacts": []}
    events = [e.payload async for e in watcher.filter_shared_stream(_one(batch))]
    assert events[0]["contact_ids"] == ["in-gap"] and use_fake_hook.requests == 1


@pytest.fixture
def sandbox_free_connection(monkeypatch: pytest.MonkeyPatch) -> str:
    conn = {
        "conn_type": "contacts",
        "host": "https://api.test",
        "password": "pit-secret-0001",
        "extra": {"auth_type": "private_token", "location_id": "loc1", "retry_backoff": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_ASYNC", json.dumps(conn))
    return "contacts_async"


async def test_a_check_waits_on_the_loop_over_httpx_holding_no_thread(sandbox_free_connection):
    """The answer is held back until the loop itself releases it: a blocked loop or a thread would hang."""
    release = asyncio.Event()
    threads_while_waiting: list[threading.Thread] = []

    async def slow_answer(request: httpx.Request) -> httpx.Response:
        threads_while_waiting.append(threading.current_thread())
        await release.wait()
        return httpx.Response(200, json={"contact": {"id": "c9", "email": "a@x.test"}})

    async def release_from_the_loop() -> None:
        while not threads_while_waiting:
            await asyncio.sleep(0.01)
        release.set()

    loop_thread = threading.current_thread()
    trigger = DuplicateContactTrigger(
        email="a@x.test", poll_interval=0, contacts_conn_id=sandbox_free_connection
    )
    with respx.mock(assert_all_called=True) as router:
        route = router.get("https://api.test/contacts/search/duplicate").mock(side_effect=slow_answer)
        events, _ = await asyncio.wait_for(asyncio.gather(_all(trigger), release_from_the_loop()), timeout=30)
    assert events[0]["status"] == "success" and events[0]["xcom"]["contact_id"] == "c9"
    assert route.call_count == 1
    assert threads_while_waiting == [loop_thread], (
        "the request was sent and awaited on the loop, not in a thread"
    )


async def _all(trigger: ContactsPollTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


async def test_empty_polls_do_not_save_the_watermark_each_time(use_fake_hook: FakeHook):
    """Each save goes through the triggerer's supervisor: one per poll made the watcher fall minutes behind."""

    async def batches() -> AsyncIterator[dict[str, Any]]:
        for second in (10, 13, 16, 19):
            yield {"start": at(0), "polled_at": T0.replace(second=second), "contacts": []}
        use_fake_hook.add("late", added=at(20))
        yield {"start": at(0), "polled_at": T0.replace(second=22), "contacts": list(use_fake_hook.contacts)}

    watcher = ContactChangedEventTrigger(event="created", poll_interval=3, lag_margin=0)
    store = watcher.asset_state_store = MemoryStore()
    await watcher.save_watermark({"since": at(0), "seen": {}})
    events = [e.payload async for e in watcher.filter_shared_stream(batches())]
    assert [e["contact_ids"] for e in events] == [["late"]]
    # The start, the first poll, then nothing until the event: three empty polls did not write.
    assert store.writes == 3
    saved = store.data[ContactChangedEventTrigger.WATERMARK_KEY]
    assert saved["since"] == at(22), "the event's watermark is saved before the event is yielded"

"""The one bounded thread pool: never more in flight than allowed, items read lazily, errors stop the rest.
Shared calls: callers at the same moment share one run, its result or its error; a later caller runs anew."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from airflow_provider_contacts.concurrency import SharedCalls, bounded_map
from airflow_provider_contacts.exceptions import ContactsConfigError


def test_every_item_comes_back_with_its_result() -> None:
    assert sorted(bounded_map(lambda n: n * n, range(50), workers=4)) == [(n, n * n) for n in range(50)]


def test_items_are_read_only_when_a_slot_is_free() -> None:
    lock = threading.Lock()
    running, most, read = 0, 0, []

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        with lock:
            running -= 1
        return n

    def items() -> Iterator[int]:
        for n in range(40):
            read.append(n)
            yield n

    consumed = 0
    for _ in bounded_map(work, items(), workers=3, in_flight=2):
        consumed += 1
        # never more than the limit taken from the generator ahead of what the caller has seen
        assert len(read) - consumed <= 2
    assert consumed == 40 and most <= 2


def test_a_limit_may_change_between_submissions() -> None:
    asked = []

    def limit() -> int:
        asked.append(1)
        return 1

    assert len(list(bounded_map(str, range(5), workers=2, in_flight=limit))) == 5
    assert len(asked) >= 5


def test_the_first_error_is_raised_and_the_rest_is_not_started() -> None:
    started = []
    gate = threading.Event()

    def work(n: int) -> int:
        started.append(n)
        if n == 0:
            raise ValueError("record 0 is bad")
        assert gate.wait(timeout=30)
        return n

    results = bounded_map(work, range(100), workers=1, in_flight=1)
    with pytest.raises(ValueError, match="record 0"):
        next(results)
    gate.set()
    assert len(started) < 100


def test_workers_must_be_at_least_one() -> None:
    with pytest.raises(ContactsConfigError, match="max_workers must be at least 1"):
        list(bounded_map(str, [1], workers=0))


def test_a_thread_per_call_in_flight_and_none_left_when_the_caller_stops() -> None:
    def alive() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("bounded-test")]

    results = bounded_map(str, range(100), workers=8, in_flight=3, name="bounded-test")
    assert next(results)[1] in {str(n) for n in range(100)}
    assert 1 <= len(alive()) <= 3, "no more threads than calls in flight"
    results.close()  # the caller stops early: its threads finish and exit
    assert alive() == []
    assert len(list(bounded_map(str, range(100), workers=8, name="bounded-test"))) == 100
    assert alive() == []


def wait_for(condition, timeout: float = 10.0) -> bool:
    """Whether ``condition`` came true before the deadline (checked as threads yield, no fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.001)
    return True


def test_callers_at_the_same_moment_share_one_run() -> None:
    shared, runs, release = SharedCalls(), [], threading.Event()
    entered = threading.Event()

    def lookup() -> dict:
        runs.append(1)
        entered.set()
        assert release.wait(timeout=10)
        return {"conn": "c1"}

    first: list = []
    leader = threading.Thread(target=lambda: first.append(shared.call("c1", lookup)))
    leader.start()
    assert entered.wait(timeout=10)
    results, errors = [], []
    followers = [
        threading.Thread(target=lambda: results.append(shared.call("c1", lambda: {"conn": "other run"})))
        for _ in range(6)
    ]
    for thread in followers:
        thread.start()
    assert wait_for(lambda: shared.waiting("c1") == 6), "the six followers wait for the leader's run"
    assert results == []
    release.set()
    for thread in [leader, *followers]:
        thread.join(timeout=10)
    assert runs == [1] and not errors
    assert first == [{"conn": "c1"}] and results == [{"conn": "c1"}] * 6
    # nothing is kept: a later call runs anew
    assert shared.call("c1", lambda: {"conn": "edited"}) == {"conn": "edited"}


def test_the_runs_error_reaches_every_caller_who_shared_it() -> None:
    shared, release, entered = SharedCalls(), threading.Event(), threading.Event()

    def missing() -> None:
        entered.set()
        assert release.wait(timeout=10)
        raise LookupError("the conn id `c1` isn't defined")

    caught: list[BaseException] = []

    def call(fn) -> None:
        try:
            shared.call("c1", fn)
        except LookupError as error:
            caught.append(error)

    leader = threading.Thread(target=call, args=(missing,))
    leader.start()
    assert entered.wait(timeout=10)
    follower = threading.Thread(target=call, args=(lambda: None,))
    follower.start()
    assert wait_for(lambda: shared.waiting("c1") == 1)
    release.set()
    leader.join(timeout=10)
    follower.join(timeout=10)
    assert len(caught) == 2 and all("c1" in str(error) for error in caught)


def test_other_keys_do_not_wait() -> None:
    shared, release, entered = SharedCalls(), threading.Event(), threading.Event()

    def held() -> str:
        entered.set()
        assert release.wait(timeout=10)
        return "c1"

    leader = threading.Thread(target=shared.call, args=("c1", held))
    leader.start()
    assert entered.wait(timeout=10)
    try:
        assert shared.call("c2", lambda: "c2") == "c2"
    finally:
        release.set()
        leader.join(timeout=10)

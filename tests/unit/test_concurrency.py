"""The one bounded thread pool: never more in flight than allowed, items read lazily, errors stop the rest.
Shared calls: callers at the same moment share one run, its result or its error; a later caller runs anew."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from airflow_provider_contacts.concurrency import SharedCalls, bounded_map
from airflow_provider_contacts.exceptions import ContactsConfigError

#: Both ways of reading the items: on the caller's thread (any iterable), and by the free worker (a list).
MODES = pytest.mark.parametrize("read_anywhere", [False, True], ids=["read by the caller", "read by workers"])


@MODES
def test_every_item_comes_back_with_its_result(read_anywhere: bool) -> None:
    results = bounded_map(lambda n: n * n, range(50), workers=4, read_anywhere=read_anywhere)
    assert sorted(results) == [(n, n * n) for n in range(50)]


@MODES
def test_items_are_read_only_when_a_slot_is_free(read_anywhere: bool) -> None:
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
    for _ in bounded_map(work, items(), workers=3, in_flight=2, read_anywhere=read_anywhere):
        consumed += 1
        # Never more taken ahead of what the caller has seen than the limit: calls in flight, and (read by
        # the workers) as many results not collected yet.
        assert len(read) - consumed <= (4 if read_anywhere else 2)
    assert consumed == 40 and most <= 2


@MODES
def test_a_limit_may_change_between_submissions(read_anywhere: bool) -> None:
    asked = []

    def limit() -> int:
        asked.append(1)
        return 1

    assert len(list(bounded_map(str, range(5), workers=2, in_flight=limit, read_anywhere=read_anywhere))) == 5
    assert len(asked) >= 5


@MODES
def test_the_first_error_is_raised_and_the_rest_is_not_started(read_anywhere: bool) -> None:
    started = []
    gate = threading.Event()

    def work(n: int) -> int:
        started.append(n)
        if n == 0:
            raise ValueError("record 0 is bad")
        assert gate.wait(timeout=30)
        return n

    results = bounded_map(work, range(100), workers=1, in_flight=1, read_anywhere=read_anywhere)
    with pytest.raises(ValueError, match="record 0"):
        next(results)
    gate.set()
    assert len(started) < 100
    if read_anywhere:
        assert started == [0], "a worker whose call raised starts nothing more"


@MODES
def test_workers_must_be_at_least_one(read_anywhere: bool) -> None:
    with pytest.raises(ContactsConfigError, match="max_workers must be at least 1"):
        list(bounded_map(str, [1], workers=0, read_anywhere=read_anywhere))


@MODES
def test_a_thread_per_call_in_flight_and_none_left_when_the_caller_stops(read_anywhere: bool) -> None:
    def alive() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("bounded-test")]

    results = bounded_map(
        str, range(100), workers=8, in_flight=3, name="bounded-test", read_anywhere=read_anywhere
    )
    assert next(results)[1] in {str(n) for n in range(100)}
    assert 1 <= len(alive()) <= 3, "no more threads than calls in flight"
    results.close()  # the caller stops early: its threads finish and exit
    assert alive() == []
    assert (
        len(list(bounded_map(str, range(100), workers=8, name="bounded-test", read_anywhere=read_anywhere)))
        == 100
    )
    assert alive() == []


def test_items_that_fail_to_read_reach_the_caller_when_workers_read_them() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise OSError("the source went away after record 1")

    with pytest.raises(OSError, match="after record 1"):
        list(bounded_map(str, items(), workers=4, read_anywhere=True))
    assert not [t for t in threading.enumerate() if t.name.startswith("contacts_")]


def test_workers_reading_the_items_follow_a_limit_that_shrinks_and_grows() -> None:
    """Calls in flight keep to the limit of the moment; a grown limit wakes the workers that waited."""
    lock = threading.Lock()
    running, most_when_narrow, first_done, limit_now = 0, 0, 0, 6
    narrowed, release, grown, widened = (
        threading.Event(),
        threading.Event(),
        threading.Event(),
        threading.Event(),
    )

    def work(n: int) -> int:
        nonlocal running, most_when_narrow, first_done
        with lock:
            running += 1
            if narrowed.is_set() and first_done == 6 and not grown.is_set():
                most_when_narrow = max(most_when_narrow, running)
            if grown.is_set() and running >= 2:
                widened.set()
        if n < 6:
            assert release.wait(timeout=30)  # the first six hold their slots until the limit has shrunk
        elif n == 20:
            assert grown.wait(timeout=30)  # the limit grows while this one runs
        elif n > 20:
            assert widened.wait(timeout=30), "a grown limit lets the waiting workers start"
        with lock:
            running -= 1
            if n < 6:
                first_done += 1
        return n

    results = bounded_map(work, list(range(60)), workers=6, in_flight=lambda: limit_now, read_anywhere=True)
    collected: list[tuple[int, int]] = []
    consumer = threading.Thread(target=lambda: collected.extend(results))
    consumer.start()
    assert wait_for(lambda: running == 6), "six calls in flight under a limit of six"
    limit_now = 1
    narrowed.set()
    release.set()
    assert wait_for(lambda: len(collected) == 20), "the rest goes on, one call at a time"
    assert most_when_narrow == 1
    limit_now = 4
    grown.set()
    consumer.join(timeout=60)
    assert widened.is_set()
    assert sorted(n for n, _ in collected) == list(range(60))


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

"""The transport's limiter: answers fix when a request leaves the window, pacing from the headers, and the
asyncio face taking from the same budget. A fake clock: nothing sleeps."""

from __future__ import annotations

import asyncio
import threading

import pytest

from airflow_provider_contacts.transport.limiter import RollingWindowLimiter
from tests.unit.hooks.test_rate_limit import limiter_with_fake_time


def test_a_request_leaves_the_window_a_window_after_its_answer():
    limiter, clock = limiter_with_fake_time(1, 10.0)
    started = limiter.acquire()
    clock.now = 0.6  # the answer came 600 ms later: the request reached the server by then
    limiter.release(started)
    assert limiter.acquire() == pytest.approx(10.6)


def test_a_quick_answer_frees_the_slot_before_the_margin_would():
    limiter, clock = limiter_with_fake_time(1, 10.0)
    started = limiter.acquire()
    clock.now = 0.01
    limiter.release(started)
    assert limiter.acquire() == pytest.approx(10.01)
    assert limiter.margin > 0.01


def test_remaining_lower_than_our_own_use_paces_before_the_server_says_zero():
    limiter, _clock = limiter_with_fake_time(10, 10.0)
    started = limiter.acquire()
    # The server counted 5 (remaining 5) where we sent 1: four requests of another client.
    limiter.update_from_headers({"X-RateLimit-Remaining": "5"}, started_at=started)
    starts = [limiter.acquire() for _ in range(5)]
    assert starts == [0.0] * 5, "the five slots left are used at once"
    assert limiter.acquire() == pytest.approx(10.0), "the sixth waits for the foreign four to leave"


def test_remaining_that_our_own_requests_explain_books_nothing_foreign():
    limiter, _clock = limiter_with_fake_time(10, 10.0)
    first = limiter.acquire()
    limiter.acquire()
    limiter.update_from_headers({"X-RateLimit-Remaining": "8"}, started_at=first)
    assert [limiter.acquire() for _ in range(8)] == [0.0] * 8


def test_try_acquire_never_waits_and_says_how_long():
    limiter, _clock = limiter_with_fake_time(1, 10.0)
    assert limiter.try_acquire() == (0.0, 0.0)
    started, delay = limiter.try_acquire()
    assert started is None
    assert delay == pytest.approx(10.0 + limiter.margin)


def test_threads_and_coroutines_take_from_one_budget():
    limiter = RollingWindowLimiter(2, 0.3)
    first = limiter.acquire()
    limiter.acquire()
    assert limiter.try_acquire()[0] is None, "the sync side used the budget up"
    started = asyncio.run(limiter.aacquire())
    assert started >= first + 0.3, "the coroutine waited for the window, on the loop's timer"


def test_urgent_coroutines_take_the_next_slot_before_queued_ones():
    from airflow_provider_contacts.transport.limiter import ahead_of_the_queue

    limiter = RollingWindowLimiter(1, 0.05)
    order: list[str] = []

    async def take(name: str, urgent: bool = False) -> None:
        if urgent:
            with ahead_of_the_queue():
                await limiter.aacquire()
        else:
            await limiter.aacquire()
        order.append(name)

    async def scenario() -> None:
        limiter.acquire()  # the window is full: everyone below queues
        queued = [asyncio.create_task(take(f"sensor-{n}")) for n in range(3)]
        await asyncio.sleep(0)  # all three are queued, the first one watching the window
        watcher = asyncio.create_task(take("watcher", urgent=True))
        await asyncio.gather(*queued, watcher)

    asyncio.run(scenario())
    # The first sensor was waiting its turn out: it stepped back for the watcher, to the head of its queue.
    assert order == ["watcher", "sensor-0", "sensor-1", "sensor-2"]


def test_coroutines_leave_urgent_requests_a_reserve_of_the_window():
    from airflow_provider_contacts.transport.limiter import URGENT_RESERVE, ahead_of_the_queue

    limiter = RollingWindowLimiter(10, 30.0)

    async def scenario() -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        sensors = [asyncio.create_task(limiter.aacquire()) for _ in range(10)]
        await asyncio.sleep(0.05)
        taken = sum(task.done() for task in sensors)
        asked = loop.time()
        with ahead_of_the_queue():
            await limiter.aacquire()  # the window is "full" for the sensors, not for it
        waited = loop.time() - asked
        for task in sensors:
            task.cancel()
        await asyncio.gather(*sensors, return_exceptions=True)
        return taken, waited

    taken, waited = asyncio.run(scenario())
    assert taken == 10 - URGENT_RESERVE
    assert waited < limiter.window / 2, "the urgent request did not wait for the window to free a slot"
    assert limiter.try_acquire()[0] is not None, "threads may use the last slot"


def test_a_cancelled_waiter_gives_up_its_place_and_the_queue_moves_on():
    limiter = RollingWindowLimiter(1, 0.05)
    got: list[int] = []

    async def take(n: int) -> None:
        await limiter.aacquire()
        got.append(n)

    async def scenario() -> None:
        limiter.acquire()
        tasks = [asyncio.create_task(take(n)) for n in range(4)]
        await asyncio.sleep(0)
        tasks[0].cancel()  # the one watching the window
        tasks[2].cancel()  # one still queued
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=5)

    asyncio.run(scenario())
    assert got == [1, 3]


def test_a_warm_request_leaves_the_next_window_whole():
    # A location that searched once (answered after 155 ms) and then waited longer than a window: its next
    # bulk job has the whole window again, the 101st request waits exactly one window, never two.
    limiter, clock = limiter_with_fake_time(100, 10.0)
    search = limiter.acquire()
    clock.now = 0.155
    limiter.release(search)
    limiter.update_from_headers({"X-RateLimit-Remaining": "99"}, started_at=search)
    clock.now = 10.655  # a pause of 10.5 s after the answer
    starts = [limiter.acquire() for _ in range(100)]
    assert starts == [10.655] * 100, "the whole window at once"
    clock.now = 10.81
    for started in starts:
        limiter.release(started)
        limiter.update_from_headers({"X-RateLimit-Remaining": "0"}, started_at=started)
    assert not limiter._foreign, "the server's count is all ours: nothing booked as another client's"
    assert limiter.acquire() == pytest.approx(20.81), "the next window starts when the first burst leaves"


def test_threads_waiting_for_a_slot_take_turns():
    # Many threads of a bulk job wait for a full window. A free slot must wake the thread next in line, not
    # every waiting thread: with four locations x 32 workers the wake-ups kept the client's CPU busy
    # exactly when the next window's burst had to go out.
    limiter = RollingWindowLimiter(1, 0.02)
    tries = 0
    counting = threading.Lock()
    original = limiter.try_acquire

    def counted(reserve: int = 0) -> tuple[float | None, float]:
        nonlocal tries
        with counting:
            tries += 1
        return original(reserve)

    limiter.try_acquire = counted  # type: ignore[method-assign]
    threads = [threading.Thread(target=limiter.acquire) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    # In turns: each thread tries once when its turn comes and about once per slot it waits for. Without
    # turns every waiting thread tries again at every free slot: 12 + 11 + ... (78 and more).
    assert tries <= 3 * len(threads), f"{tries} tries for {len(threads)} slots"

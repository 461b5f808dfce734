"""The transport's limiter: never more than ``limit`` starts in any window, shared by threads; answers fix when
a request leaves the window, pacing from the headers, and the asyncio face taking from the same budget. A fake
clock: nothing sleeps."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from airflow_provider_contacts.exceptions import ContactsRateLimitError
from airflow_provider_contacts.transport.limiter import RollingWindowLimiter


def test_a_request_leaves_the_window_a_window_after_its_answer():
    limiter, clock = limiter_with_fake_time(1, 10.0)
    started = limiter.acquire()
    clock.now = 0.6  # the answer came 600 ms later: the request reached the server by then
    limiter.release(started)
    assert limiter.acquire() == pytest.approx(10.6)


def test_a_quick_answer_frees_the_slot_a_window_after_it():
    limiter, clock = limiter_with_fake_time(1, 10.0)
    started = limiter.acquire()
    clock.now = 0.01
    limiter.release(started)
    assert limiter.acquire() == pytest.approx(10.01)


def test_a_request_without_an_answer_keeps_its_slot_beyond_the_window():
    # A request that waited 30 s in a starved server's backlog may still arrive and be counted: its slot
    # is not handed on before its answer (the old rule freed it a window after its start plus a margin).
    limiter, clock = limiter_with_fake_time(1, 10.0)
    started = limiter.acquire()
    clock.now = 30.0
    assert limiter.try_acquire() == (None, pytest.approx(10.0)), "a window after an answer that may come now"
    limiter.release(started)
    assert limiter.acquire() == pytest.approx(40.0), "a window after the answer"


def test_a_slot_never_released_frees_after_the_hold():
    # Only a caller that died between acquire and release leaves a slot unreleased.
    clock = SteppingClock()
    limiter = RollingWindowLimiter(1, 10.0, clock=clock, hold=60.0)
    limiter.acquire()
    clock.now = 69.9
    assert limiter.try_acquire()[0] is None
    clock.now = 70.0
    assert limiter.try_acquire() == (70.0, 0.0)


def test_remaining_lower_than_our_own_use_paces_before_the_server_says_zero():
    limiter, _clock = limiter_with_fake_time(10, 10.0)
    started = limiter.acquire()
    limiter.release(started)
    # The server counted 5 (remaining 5) where we sent 1: four requests of another client.
    limiter.update_from_headers({"X-RateLimit-Remaining": "5"}, started_at=started)
    starts = [limiter.acquire() for _ in range(5)]
    assert starts == [0.0] * 5, "the five slots left are used at once"
    for each in starts:
        limiter.release(each)
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
    assert delay == pytest.approx(10.0), "a window at the soonest: the first may be answered now"


def test_threads_and_coroutines_take_from_one_budget():
    limiter = RollingWindowLimiter(2, 0.3)
    first = limiter.acquire()
    limiter.release(first, answered_at=first)
    limiter.release(limiter.acquire())
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
                await limiter.arelease(await limiter.aacquire())
        else:
            await limiter.arelease(await limiter.aacquire())
        order.append(name)

    async def scenario() -> None:
        limiter.release(limiter.acquire())  # the window is full: everyone below queues
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
        await limiter.arelease(await limiter.aacquire())
        got.append(n)

    async def scenario() -> None:
        limiter.release(limiter.acquire())
        tasks = [asyncio.create_task(take(n)) for n in range(4)]
        await asyncio.sleep(0)
        tasks[0].cancel()  # the one watching the window
        tasks[2].cancel()  # one still queued
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=5)

    asyncio.run(scenario())
    assert got == [1, 3]


# ---------------------------------------------------------------- the window shared by threads


class SteppingClock:
    """A fake clock whose waits advance time instead of sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def limiter_with_fake_time(limit: int, window: float) -> tuple[RollingWindowLimiter, SteppingClock]:
    clock = SteppingClock()
    limiter = RollingWindowLimiter(limit, window, clock=clock)

    def fake_wait(timeout: float | None = None) -> bool:
        clock.now += timeout or 0.0
        return True

    limiter._cond.wait = fake_wait  # type: ignore[method-assign]
    return limiter, clock


def max_in_any_window(starts: list[float], window: float) -> int:
    starts = sorted(starts)
    best, left = 0, 0
    for right, start in enumerate(starts):
        while start - starts[left] >= window:
            left += 1
        best = max(best, right - left + 1)
    return best


def test_the_limit_plus_one_waits_a_full_window_after_the_first_answer():
    limiter, clock = limiter_with_fake_time(3, 10.0)
    starts = [limiter.acquire() for _ in range(3)]
    assert starts == [0.0, 0.0, 0.0]
    clock.now = 0.2
    for started in starts:
        limiter.release(started)
    started = limiter.acquire()
    assert started == pytest.approx(10.2)
    assert clock.now == pytest.approx(10.2)


def test_a_long_run_never_exceeds_the_limit_in_any_window():
    limiter, clock = limiter_with_fake_time(100, 10.0)
    starts = []
    for _ in range(1000):
        started = limiter.acquire()
        starts.append(clock.now)
        clock.now += 0.001  # each request takes a moment to send, and its answer comes at once
        limiter.release(started)
    assert max_in_any_window(starts, 10.0) <= 100
    # and the budget is used: 1000 requests in barely more than nine windows
    assert starts[-1] < 9 * (10.0 + 0.001) + 1


def test_threads_share_one_budget():
    limiter = RollingWindowLimiter(5, 0.2)
    starts: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            started = limiter.acquire()
            with lock:
                starts.append(time.monotonic())
            limiter.release(started)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(starts) == 20
    assert max_in_any_window(starts, 0.2) <= 5


def test_headers_tighten_but_never_loosen_the_budget():
    limiter = RollingWindowLimiter(100, 10.0)
    limiter.update_from_headers({"X-RateLimit-Max": "50", "X-RateLimit-Interval-Milliseconds": "20000"})
    assert (limiter.limit, limiter.window) == (50, 20.0)
    limiter.update_from_headers({"X-RateLimit-Max": "500", "X-RateLimit-Interval-Milliseconds": "1000"})
    assert (limiter.limit, limiter.window) == (50, 20.0)
    limiter.update_from_headers({"X-RateLimit-Max": "junk"})
    assert limiter.limit == 50


def test_a_budget_used_up_by_someone_else_pauses_for_a_window():
    limiter, _clock = limiter_with_fake_time(10, 10.0)
    limiter.release(limiter.acquire())
    limiter.update_from_headers({"X-RateLimit-Remaining": "0"})
    assert limiter.acquire() == pytest.approx(10.0)


def test_a_budget_we_used_up_ourselves_does_not_double_the_wait():
    limiter, clock = limiter_with_fake_time(2, 10.0)
    first, second = limiter.acquire(), limiter.acquire()
    clock.now = 0.2
    limiter.release(first)
    limiter.release(second)
    limiter.update_from_headers({"X-RateLimit-Remaining": "0"}, started_at=second)
    assert limiter.acquire() == pytest.approx(10.2)


def test_an_answer_that_comes_a_latency_later_is_not_mistaken_for_a_foreign_client():
    limiter, clock = limiter_with_fake_time(2, 10.0)
    limiter.release(limiter.acquire())  # t = 0, answered at once
    clock.now = 9.95
    started = limiter.acquire()
    clock.now = 10.25  # its answer, 300 ms later (more than the margin): the server's window is full
    limiter.release(started)
    limiter.update_from_headers({"X-RateLimit-Remaining": "0"}, started_at=started)
    assert limiter.acquire() == pytest.approx(10.25), "both counted requests were ours: no extra pause"


def test_pause_holds_every_request():
    limiter, _clock = limiter_with_fake_time(100, 10.0)
    limiter.pause(3.0)
    assert limiter.acquire() == pytest.approx(3.0)


def test_exhausted_daily_budget_refuses_at_once():
    limiter = RollingWindowLimiter(100, 10.0)
    limiter.update_from_headers({"X-RateLimit-Daily-Remaining": "0"})
    with pytest.raises(ContactsRateLimitError, match="daily"):
        limiter.acquire()


@pytest.mark.parametrize(("limit", "window", "hold"), [(0, 10.0, 60.0), (10, 0.0, 60.0), (10, 10.0, 0.0)])
def test_nonsense_budgets_are_refused(limit, window, hold):
    with pytest.raises(ValueError):
        RollingWindowLimiter(limit, window, hold=hold)


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


def test_an_answer_wakes_the_waiting_thread_only_when_it_frees_a_slot_sooner():
    # A full window's hundred answers come in its first burst, while the process's CPU is busiest. Only the
    # first of them brings the awaited slot closer (it frees a window after that answer, not a window after
    # the hold), or one reported late that came before the awaited one. Headers only tighten the budget,
    # except that a spent day must refuse the waiting thread at once.
    limiter, clock = limiter_with_fake_time(3, 10.0)
    wakes: list[float] = []
    notify_all = limiter._cond.notify_all

    def counted() -> None:
        wakes.append(clock.now)
        notify_all()

    limiter._cond.notify_all = counted  # type: ignore[method-assign]
    starts = [limiter.acquire() for _ in range(3)]
    assert limiter.try_acquire() == (None, 10.0), "no answer yet: a window at least"
    clock.now = 0.2
    limiter.release(starts[0], answered_at=0.2)
    assert wakes == [0.2]
    assert limiter.try_acquire() == (None, pytest.approx(10.0)), "the woken thread: the slot frees at 10.2"
    clock.now = 0.3
    limiter.release(starts[2], answered_at=0.3)
    limiter.update_from_headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Max": "3"}, started_at=starts[2])
    assert wakes == [0.2], "a later answer leaves the awaited slot where it was"
    limiter.release(starts[1], answered_at=0.15)  # its answer came first, its thread reports it last
    assert wakes == [0.2, 0.3]
    assert limiter.try_acquire() == (None, pytest.approx(9.85))
    limiter.update_from_headers({"X-RateLimit-Daily-Remaining": "0"})
    limiter.update_from_headers({"X-RateLimit-Daily-Remaining": "0"})
    assert wakes == [0.2, 0.3, 0.3], "the spent day wakes the waiting thread to refuse, once"
    with pytest.raises(ContactsRateLimitError, match="daily"):
        limiter.acquire()


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
    threads = [threading.Thread(target=lambda: limiter.release(limiter.acquire())) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    # In turns: each thread tries once when its turn comes and about once per slot it waits for. Without
    # turns every waiting thread tries again at every free slot: 12 + 11 + ... (78 and more).
    assert tries <= 3 * len(threads), f"{tries} tries for {len(threads)} slots"

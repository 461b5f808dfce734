"""The rolling-window limiter: never more than ``limit`` starts in any window, shared by threads."""

from __future__ import annotations

import threading
import time

import pytest

from airflow_provider_contacts.exceptions import ContactsRateLimitError
from airflow_provider_contacts.hooks.rate_limit import RollingWindowLimiter


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


def test_the_limit_plus_one_waits_a_full_window_and_margin():
    limiter, clock = limiter_with_fake_time(3, 10.0)
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    started = limiter.acquire()
    assert started == pytest.approx(10.0 + limiter.margin)
    assert clock.now == pytest.approx(10.0 + limiter.margin)


def test_a_long_run_never_exceeds_the_limit_in_any_window():
    limiter, clock = limiter_with_fake_time(100, 10.0)
    starts = []
    for _ in range(1000):
        limiter.acquire()
        starts.append(clock.now)
        clock.now += 0.001  # each request takes a moment to send
    assert max_in_any_window(starts, 10.0) <= 100
    # and the budget is used: 1000 requests in barely more than nine windows
    assert starts[-1] < 9 * (10.0 + limiter.margin) + 1


def test_threads_share_one_budget():
    limiter = RollingWindowLimiter(5, 0.2)
    starts: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            limiter.acquire()
            with lock:
                starts.append(time.monotonic())

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
    limiter.acquire()
    limiter.update_from_headers({"X-RateLimit-Remaining": "0"})
    assert limiter.acquire() == pytest.approx(10.0)


def test_a_budget_we_used_up_ourselves_does_not_double_the_wait():
    limiter, _clock = limiter_with_fake_time(2, 10.0)
    limiter.acquire()
    limiter.acquire()
    limiter.update_from_headers({"X-RateLimit-Remaining": "0"})
    assert limiter.acquire() == pytest.approx(10.0 + limiter.margin)


def test_an_answer_that_comes_a_latency_later_is_not_mistaken_for_a_foreign_client():
    limiter, clock = limiter_with_fake_time(2, 10.0)
    limiter.acquire()  # t = 0
    clock.now = 9.95
    started = limiter.acquire()
    clock.now = 10.25  # its answer, 300 ms later (more than the margin): the server's window is full
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


@pytest.mark.parametrize(("limit", "window"), [(0, 10.0), (10, 0.0)])
def test_nonsense_budgets_are_refused(limit, window):
    with pytest.raises(ValueError):
        RollingWindowLimiter(limit, window)

"""
The limiter holds on a machine booted a minute ago, whatever ``time.monotonic()``'s (undefined) reference
point, and at midnight and year end (issue 22, item 5): pinned clocks, nothing sleeps.
"""

from __future__ import annotations

import logging
from datetime import date

import pytest

from airflow_provider_contacts.exceptions import ContactsRateLimitError
from airflow_provider_contacts.transport.limiter import SHARED_RETRY_AFTER, RollingWindowLimiter
from airflow_provider_contacts.transport.shared import RedisWindow

#: Python documents the reference point of ``time.monotonic()`` as undefined: only differences count.
READINGS = (-3600.0, -0.5, 0.0, 0.25, 59.0)


class PinnedClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("reading", READINGS)
def test_a_fresh_limiter_lets_the_first_request_go_at_once(reading: float) -> None:
    limiter = RollingWindowLimiter(2, 10.0, clock=PinnedClock(reading))
    assert limiter.try_acquire() == (reading, 0.0)


@pytest.mark.parametrize("reading", READINGS)
def test_a_pause_lasts_as_long_as_asked_whatever_the_reading(reading: float) -> None:
    clock = PinnedClock(reading)
    limiter = RollingWindowLimiter(2, 10.0, clock=clock)
    limiter.pause(5.0)
    assert limiter.try_acquire() == (None, pytest.approx(5.0))
    clock.now = reading + 5.0
    assert limiter.try_acquire() == (reading + 5.0, 0.0)


@pytest.mark.parametrize("reading", (-3600.0, 0.25))
def test_a_backend_that_did_not_answer_is_tried_again_after_the_pause_on_the_limiters_clock(
    reading: float, caplog: pytest.LogCaptureFixture
) -> None:
    clock = PinnedClock(reading)
    limiter = RollingWindowLimiter(5, 10.0, clock=clock)
    limiter.shared = RedisWindow("redis://127.0.0.1:1/0", "clock-test", 5, 10.0, limiter.hold)
    caplog.set_level(logging.WARNING)

    def warnings() -> int:
        return sum("did not answer" in r.getMessage() for r in caplog.records)

    assert limiter.try_acquire()[0] is not None and warnings() == 1
    clock.now = reading + SHARED_RETRY_AFTER - 1
    assert limiter.try_acquire()[0] is not None and warnings() == 1, "the backend is left alone meanwhile"
    clock.now = reading + SHARED_RETRY_AFTER + 1
    assert limiter.try_acquire()[0] is not None and warnings() == 2, "and tried again after the pause"


@pytest.mark.parametrize(
    ("spent_on", "next_day"),
    [(date(2026, 12, 31), date(2027, 1, 1)), (date(2027, 2, 28), date(2027, 3, 1))],
)
def test_a_spent_daily_budget_renews_at_midnight_utc(spent_on: date, next_day: date) -> None:
    day = [spent_on]
    limiter = RollingWindowLimiter(5, 10.0, clock=PinnedClock(0.25), utc_day=lambda: day[0])
    limiter.update_from_headers({"X-RateLimit-Daily-Remaining": "0"})
    with pytest.raises(ContactsRateLimitError, match="daily request budget is exhausted"):
        limiter.try_acquire()
    day[0] = next_day
    assert limiter.try_acquire() == (0.25, 0.0), "the day renewed: requests resume by themselves"

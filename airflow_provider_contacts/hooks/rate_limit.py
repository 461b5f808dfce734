"""A client-side rolling-window rate limiter shared by every thread of a hook."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

from airflow_provider_contacts.exceptions import ContactsRateLimitError


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


class RollingWindowLimiter:
    """
    Never lets more than ``limit`` requests start within any ``window`` seconds.

    The API counts requests as they arrive, over a rolling window, so a fixed bucket that refills on the
    second is not enough: two bursts on either side of a refill would break the limit. The limiter keeps the
    start times of the last ``limit`` requests and lets a new one start only once the oldest of them is a
    full window (plus a small margin for the time a request takes to reach the server) in the past.

    It tightens itself from the ``X-RateLimit-*`` headers: a smaller ``X-RateLimit-Max`` or a longer
    ``X-RateLimit-Interval-Milliseconds`` than configured wins, an exhausted ``X-RateLimit-Remaining`` that
    this client did not use up itself (another client shares the location's budget) pauses it for a window,
    and an exhausted daily budget makes every further request fail fast.

    :param limit: requests allowed per window.
    :param window: window length in seconds.
    :param clock: monotonic clock (tests pass a fake one).
    """

    def __init__(self, limit: int, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._starts: deque[float] = deque()
        # Every recent start, kept longer than the window: an answer arrives a latency after its request
        # started, and the server counted the window from the request's arrival, not from the answer's.
        self._recent: deque[float] = deque(maxlen=4 * limit)
        self._paused_until = 0.0
        self._daily_exhausted = False
        self._cond = threading.Condition()

    @property
    def margin(self) -> float:
        """Slack added to the window: covers the time between taking a slot and the request's arrival."""
        return 0.02 * self.window + 0.02

    def acquire(self) -> float:
        """Block until a request may start; return its start time on the limiter's clock."""
        with self._cond:
            while True:
                if self._daily_exhausted:
                    raise ContactsRateLimitError(
                        "the location's daily request budget is exhausted (X-RateLimit-Daily-Remaining: 0); "
                        "it renews daily",
                        status=429,
                    )
                now = self._clock()
                horizon = self._prune(now)
                delay = self._paused_until - now
                if delay <= 0 and len(self._starts) >= self.limit:
                    delay = self._starts[0] - horizon
                if delay <= 0:
                    self._starts.append(now)
                    self._recent.append(now)
                    return now
                self._cond.wait(delay)

    def _prune(self, now: float) -> float:
        """Forget the starts that left the window; return the window's lower edge."""
        horizon = now - self.window - self.margin
        # The epsilon keeps float rounding from leaving a start a hair inside the window forever.
        while self._starts and self._starts[0] <= horizon + 1e-9:
            self._starts.popleft()
        return horizon

    def pause(self, seconds: float) -> None:
        """Let no request start for ``seconds`` (after a 429, with the server's ``Retry-After``)."""
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _own_share(self, started_at: float) -> int:
        """
        How many of the requests the server counted when the request started at ``started_at`` arrived
        could be ours: those started within a window (and margin) before it, and every one started since,
        since a later request can overtake it on the way.
        """
        edge = started_at - self.window - self.margin
        return sum(1 for start in self._recent if start > edge)

    def update_from_headers(self, headers: Mapping[str, str], started_at: float | None = None) -> None:
        """
        Tighten the budget from the ``X-RateLimit-*`` headers of an answer.

        :param headers: the answer's headers.
        :param started_at: when its request started (what :meth:`acquire` returned); without it the current
            window stands in for the request's.
        """
        max_requests = _header_number(headers, "X-RateLimit-Max")
        interval_ms = _header_number(headers, "X-RateLimit-Interval-Milliseconds")
        remaining = _header_number(headers, "X-RateLimit-Remaining")
        daily_remaining = _header_number(headers, "X-RateLimit-Daily-Remaining")
        with self._cond:
            if max_requests is not None and 1 <= max_requests < self.limit:
                self.limit = int(max_requests)
            if interval_ms is not None and interval_ms / 1000.0 > self.window:
                self.window = interval_ms / 1000.0
            if daily_remaining is not None and daily_remaining <= 0:
                self._daily_exhausted = True
            self._cond.notify_all()
            if remaining is None or remaining > 0:
                return
            ours = self._own_share(self._clock() if started_at is None else started_at)
        if ours < self.limit:
            # The budget is gone but not through us: someone else shares this location's limit.
            self.pause(self.window)

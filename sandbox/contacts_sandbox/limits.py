"""Rate limits, fault injection and the counters behind ``GET /_sandbox/stats``."""

from __future__ import annotations

import math
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .options import SandboxOptions


@dataclass
class Decision:
    """
    The limiter's answer for one request.

    :param allowed: whether it may proceed.
    :param headers: the five ``X-RateLimit-*`` headers (plus ``Retry-After`` when refused).
    """

    allowed: bool
    headers: list[tuple[bytes, bytes]]


@dataclass
class _Budget:
    window: deque[float] = field(default_factory=deque)
    day: str = ""
    day_count: int = 0
    peak: int = 0


class RateLimiter:
    """
    ``limit`` requests per ``interval`` seconds over a rolling window, and ``daily`` per UTC day, per key.

    The window is rolling (a log of request times), so no interval-long window ever holds more than
    ``limit`` served requests. Refused requests are not counted. The daily budget resets at UTC midnight
    (our assumption: the real reset time is undocumented).

    :param limit: requests per window.
    :param interval: window length in seconds.
    :param daily: requests per UTC day.
    """

    def __init__(self, limit: int, interval: float, daily: int) -> None:
        self.limit = limit
        self.interval = interval
        self.daily = daily
        self.budgets: dict[tuple[str, str], _Budget] = {}
        self.rejected = 0

    def _budget(self, key: tuple[str, str] | None, now: float) -> _Budget:
        """Return a key's budget with the window pruned and the day rolled (a blank one for no key)."""
        if key is None:
            return _Budget()
        budget = self.budgets.get(key)
        if budget is None:
            budget = self.budgets[key] = _Budget()
        horizon = now - self.interval
        while budget.window and budget.window[0] <= horizon:
            budget.window.popleft()
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        if budget.day != today:
            budget.day, budget.day_count = today, 0
        return budget

    def _headers(self, budget: _Budget) -> list[tuple[bytes, bytes]]:
        return [
            (b"x-ratelimit-limit-daily", str(self.daily).encode()),
            (b"x-ratelimit-daily-remaining", str(max(0, self.daily - budget.day_count)).encode()),
            (b"x-ratelimit-interval-milliseconds", str(int(self.interval * 1000)).encode()),
            (b"x-ratelimit-max", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(max(0, self.limit - len(budget.window))).encode()),
        ]

    def peek(self, key: tuple[str, str] | None) -> list[tuple[bytes, bytes]]:
        """
        Return the ``X-RateLimit-*`` headers of a key without counting a request (for refused requests).

        :param key: (client id, location id), or None when the caller is unknown (full budget shown).
        """
        return self._headers(self._budget(key, time.monotonic()))

    def check(self, key: tuple[str, str]) -> Decision:
        """
        Count one request of a (client, location) key, or refuse it.

        :param key: (client id, location id).
        """
        now = time.monotonic()
        budget = self._budget(key, now)
        window = budget.window
        retry_after = None
        if budget.day_count >= self.daily:
            retry_after = math.ceil(86400 - (time.time() % 86400))
        elif len(window) >= self.limit:
            retry_after = max(1, math.ceil(window[0] + self.interval - now))
        else:
            window.append(now)
            budget.day_count += 1
            budget.peak = max(budget.peak, len(window))
        headers = self._headers(budget)
        if retry_after is not None:
            self.rejected += 1
            # Retry-After in whole seconds is our assumption: the real API's 429 is undocumented.
            headers.append((b"retry-after", str(retry_after).encode()))
            return Decision(False, headers)
        return Decision(True, headers)

    def peaks(self) -> dict[str, int]:
        """Return the most requests any key had in one rolling window, keyed ``client/location``."""
        return {f"{c}/{loc}": b.peak for (c, loc), b in self.budgets.items()}

    def reset(self) -> None:
        """Forget every budget (the daily counts too)."""
        self.budgets.clear()
        self.rejected = 0


class FaultInjector:
    """
    Chooses which API requests get a fault, reproducibly: one draw per API request from a seeded RNG.

    :param rate: fraction of requests that get a fault.
    :param kinds: the kinds to choose among.
    :param seed: the RNG seed.
    """

    def __init__(self, rate: float, kinds: list[str], seed: int) -> None:
        self.configure(rate, kinds, seed)
        self.injected_by_route: dict[str, Counter[str]] = {}

    def configure(self, rate: float, kinds: list[str], seed: int | None = None) -> None:
        """
        Change the fault rate and kinds (and restart the sequence when a seed is given).

        :param rate: fraction of requests that get a fault.
        :param kinds: the kinds to choose among.
        :param seed: a new RNG seed, or None to continue the current sequence.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        SandboxOptions(fault_rate=rate, fault_kinds=list(kinds))  # validates the kinds
        self.rate = rate
        self.kinds = list(kinds)
        if seed is not None:
            self._rng = random.Random(seed)

    def draw(self, route: str = "") -> str | None:
        """
        Return the fault for the next request, or None.

        :param route: the request's route label (``POST /contacts/{contactId}/tasks``), counted with the fault.
        """
        if self.rate <= 0 or not self.kinds:
            return None
        if self._rng.random() >= self.rate:
            return None
        kind = self._rng.choice(self.kinds)
        self.injected_by_route.setdefault(route, Counter())[kind] += 1
        return kind

    @property
    def injected(self) -> Counter[str]:
        """The injected faults by kind, over every route."""
        return sum(self.injected_by_route.values(), Counter())

    def clear(self) -> None:
        """Forget the counts of injected faults."""
        self.injected_by_route.clear()


class Stats:
    """Counters of requests by route and status."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.by_route: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.total = 0
        self.sent_429 = 0

    def count(self, route: str, status: int) -> None:
        """
        Count one answered request.

        :param route: ``METHOD /path/{template}``.
        :param status: the status sent.
        """
        self.total += 1
        self.by_route[route] += 1
        self.by_status[status] += 1
        if status == 429:
            self.sent_429 += 1

    def snapshot(self, **extra: Any) -> dict[str, Any]:
        """
        Return the counters as JSON-able data.

        :param extra: more counters to include.
        """
        return {
            "total_requests": self.total,
            "requests_by_route": dict(self.by_route),
            "requests_by_status": {str(k): v for k, v in self.by_status.items()},
            "rate_limited_429": self.sent_429,
            **extra,
        }

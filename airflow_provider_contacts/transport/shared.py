"""
A location's rate budget kept in Redis, so that every process that uses it (workers, sensors, the
triggerer) shares one rolling window and one daily count (connection extra ``rate_limit_backend``).

The window follows the same rule as the process-local limiter: a request leaves it a window after its
answer (a request cannot reach the server after its answer came back), and holds its slot until then; a
slot never released (its process died) leaves a window after its start plus the hold. Both libraries the
issue named were weighed first:

- ``limits`` (moving window, Redis storage) books start times in whole-second windows (its items take
  whole multiples of a second and its Lua script sets an integer ``EXPIRE``; read in its source), so it
  cannot even hold the 10 s window plus a margin;
- ``pyrate-limiter`` (Redis sliding log, millisecond windows) books start times only, with the caller's
  clock; with the margin set to the slowest recent round trip, two processes of one location still
  earned 429s on a loaded machine (``tests/integration/test_shared_budget.py``), because a request that
  queued on its way arrived later than its booked start allowed.

Neither can move an entry to its answer's time, so the window is two short Lua scripts here: take a slot
(prune, count, book the start plus the hold, count the day) and release it (re-book at the answer).
Both read Redis's own clock, so hosts with skewed clocks still share one window.

The daily budget is a counter per UTC day (the sandbox's assumption; HighLevel does not document the
reset), raised to the limit as soon as any process reads ``X-RateLimit-Daily-Remaining: 0``.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from datetime import datetime, timezone
from typing import Any

from airflow_provider_contacts.extras import require
from airflow_provider_contacts.transport.limiter import daily_exhausted_error
from airflow_provider_contacts.urls import redacted_url

DEFAULT_DAILY_LIMIT = 200_000
#: Fail fast when Redis does not answer: the caller falls back to its own limiter.
SOCKET_TIMEOUT = 2.0
_DAY_TTL = 2 * 86400

# KEYS: window, day.  ARGV: limit, window ms, hold ms, member, daily limit.
# Returns 0 (taken), -1 (the day is spent) or the milliseconds until a slot frees. A member still waiting
# for its answer has a score still to come (its start plus the hold): it frees no sooner than a window
# after its answer, so a window from now at the soonest.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[5]) then
  return -1
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')[2])
  if oldest > now then
    return window
  end
  return math.max(1, oldest + window - now)
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + window * 2 + 60000)
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 172800)
return 0
"""

# KEYS: window.  ARGV: member.  The request has its answer: it left the window's count a window from now.
_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 0
"""


def budget_keys(key_prefix: str, budget_key: str) -> tuple[str, str]:
    """
    The Redis keys of a budget: its window (a sorted set) and its daily counter's stem (``:<UTC date>`` follows).

    :param key_prefix: the connection's ``rate_limit_key_prefix``.
    :param budget_key: ``<app digest>:<location>`` (or a leading part of it, for a pattern).
    """
    return f"{key_prefix}:window:{budget_key}", f"{key_prefix}:daily:{budget_key}"


class RedisWindow:
    """
    One location's rolling window and daily count in Redis.

    :param url: the Redis URL (``redis://host:6379/0``).
    :param budget_key: the budget's name (see ``ContactsSettings.budget_key``): app and location.
    :param limit: requests per window.
    :param window: the window in seconds.
    :param hold: the longest a request without an answer keeps its slot, in seconds.
    :param key_prefix: prefix of the Redis keys (connection extra ``rate_limit_key_prefix``).
    """

    def __init__(
        self,
        url: str,
        budget_key: str,
        limit: int,
        window: float,
        hold: float,
        key_prefix: str = "airflow-provider-contacts",
    ) -> None:
        redis = require("redis", extra="redis", feature="extra.rate_limit_backend")

        self._url = url  # may hold the password: never shown
        #: The URL for messages: no user information, no query value.
        self.label = redacted_url(url)
        self.window_key, self._daily_key = budget_keys(key_prefix, budget_key)
        self.daily_limit = DEFAULT_DAILY_LIMIT
        self.configure(limit, window, hold)
        self._redis = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
        )
        self._take = self._redis.register_script(_TAKE)
        self._release = self._redis.register_script(_RELEASE)
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Any, Any]] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"RedisWindow({self.label}, key={self.window_key!r})"

    def configure(
        self,
        limit: int,
        window: float,
        hold: float,
        daily_limit: float | None = None,
        daily_remaining: float | None = None,
    ) -> None:
        """
        Follow the budget the server announced.

        :param limit: requests per window.
        :param window: the window in seconds.
        :param hold: the longest a request without an answer keeps its slot, in seconds.
        :param daily_limit: ``X-RateLimit-Limit-Daily``.
        :param daily_remaining: ``X-RateLimit-Daily-Remaining``; 0 marks the day spent for every process.
        """
        self.limit, self.window_ms, self.hold_ms = int(limit), round(window * 1000), round(hold * 1000)
        if daily_limit:
            self.daily_limit = int(daily_limit)
        if daily_remaining is not None and daily_remaining <= 0:
            self._redis.set(self._day_key(), self.daily_limit, ex=_DAY_TTL)

    def _day_key(self) -> str:
        return f"{self._daily_key}:{datetime.now(timezone.utc):%Y-%m-%d}"

    def _args(self, member: str, reserve: int) -> tuple[list[str], list[Any]]:
        keys = [self.window_key, self._day_key()]
        return keys, [max(1, self.limit - reserve), self.window_ms, self.hold_ms, member, self.daily_limit]

    @staticmethod
    def _verdict(reply: Any, member: str) -> tuple[str | None, float]:
        wait = int(reply)
        if wait < 0:
            raise daily_exhausted_error()
        return (member, 0.0) if wait == 0 else (None, wait / 1000.0)

    def try_acquire(self, reserve: int = 0) -> tuple[str | None, float]:
        """
        Take a slot now, or say how long until one frees; raises once the day is spent.

        :param reserve: slots of the window this request must leave free (for urgent ones).
        :return: ``(slot id, 0)`` or ``(None, seconds)``; hand the slot id to :meth:`release`.
        """
        member = uuid.uuid4().hex
        keys, args = self._args(member, reserve)
        return self._verdict(self._take(keys=keys, args=args), member)

    def release(self, slot: str) -> None:
        """
        The request of ``slot`` has its answer: it leaves the window a window from now.

        :param slot: what :meth:`try_acquire` returned.
        """
        self._release(keys=[self.window_key], args=[slot])

    def _loop_scripts(self) -> tuple[Any, Any, Any]:
        """The running loop's client and scripts (an asyncio client cannot cross loops)."""
        from redis.asyncio import Redis as AsyncRedis

        loop = asyncio.get_running_loop()
        found = self._async.get(loop)
        if found is None:
            client = AsyncRedis.from_url(
                self._url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
            )
            found = self._async[loop] = (
                client,
                client.register_script(_TAKE),
                client.register_script(_RELEASE),
            )
        return found

    async def atry_acquire(self, reserve: int = 0) -> tuple[str | None, float]:
        """
        :meth:`try_acquire` for a coroutine.

        :param reserve: slots of the window this request must leave free (for urgent ones).
        """
        _, take, _ = self._loop_scripts()
        member = uuid.uuid4().hex
        keys, args = self._args(member, reserve)
        return self._verdict(await take(keys=keys, args=args), member)

    async def arelease(self, slot: str) -> None:
        """:meth:`release` for a coroutine."""
        _, _, release = self._loop_scripts()
        await release(keys=[self.window_key], args=[slot])

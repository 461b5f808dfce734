"""
A location's rate budget kept in Redis, so that every process that uses it (workers, sensors, the
triggerer) shares one rolling window and one daily count (connection extra ``rate_limit_backend``).

The rolling window is ``pyrate-limiter``'s Redis bucket: a sliding log (a sorted set of start times, in
milliseconds) checked and extended by one Lua script, so the check-and-take is atomic for every process.
``limits`` was the first choice, but its windows are whole seconds (the Redis key's ``EXPIRE`` takes an
integer), so it cannot hold the window plus the margin that covers a request's way to the server, and
without that margin two requests a window apart can reach the server less than a window apart.

The daily budget is a counter per UTC day (the sandbox's assumption; HighLevel does not document the
reset), raised to the limit as soon as any process reads ``X-RateLimit-Daily-Remaining: 0``.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import weakref
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_contacts.transport.limiter import daily_exhausted_error

DEFAULT_DAILY_LIMIT = 200_000
#: Fail fast when Redis does not answer: the caller falls back to its own limiter.
SOCKET_TIMEOUT = 2.0
_LEAK_EVERY = 200


def redacted(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisWindow:
    """
    One location's rolling window and daily count in Redis.

    :param url: the Redis URL (``redis://host:6379/0``).
    :param budget_key: the budget's name (see ``ContactsSettings.budget_key``): app and location.
    :param limit: requests per window.
    :param window: the window in seconds, margin included.
    :param key_prefix: prefix of the Redis keys (connection extra ``rate_limit_key_prefix``).
    """

    def __init__(
        self, url: str, budget_key: str, limit: int, window: float, key_prefix: str = "airflow-provider-contacts"
    ) -> None:
        import redis  # the optional extra "redis": imported only when a backend is configured

        self.url = url
        self.label = redacted(url)
        self.window_key = f"{key_prefix}:window:{budget_key}"
        self._daily_key = f"{key_prefix}:daily:{budget_key}"
        self.daily_limit = DEFAULT_DAILY_LIMIT
        self._rates: list[Any] = []
        self.configure(limit, window)
        self._redis = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
        )
        self._lock = threading.Lock()
        self._bucket: Any = None
        self._abuckets: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._hits = 0

    def configure(
        self,
        limit: int,
        window: float,
        daily_limit: float | None = None,
        daily_remaining: float | None = None,
    ) -> None:
        """
        Follow the budget the server announced.

        :param limit: requests per window.
        :param window: the window in seconds, margin included.
        :param daily_limit: ``X-RateLimit-Limit-Daily``.
        :param daily_remaining: ``X-RateLimit-Daily-Remaining``; 0 marks the day spent for every process.
        """
        from pyrate_limiter import Rate

        self._rates[:] = [Rate(int(limit), round(window * 1000))]
        if daily_limit:
            self.daily_limit = int(daily_limit)
        if daily_remaining is not None and daily_remaining <= 0 and hasattr(self, "_redis"):
            self._redis.set(self._day_key(), self.daily_limit, ex=2 * 86400)

    def _day_key(self) -> str:
        return f"{self._daily_key}:{datetime.now(timezone.utc):%Y-%m-%d}"

    def _item(self, bucket: Any) -> Any:
        from pyrate_limiter import RateItem

        return RateItem("request", bucket.now(), 1)

    def _spend_day(self, spent: int) -> float:
        if spent > self.daily_limit:
            raise daily_exhausted_error()
        return 0.0

    def try_acquire(self) -> float:
        """Take a slot now and return 0, or return the seconds until one frees; raises once the day is spent."""
        from pyrate_limiter import RedisBucket

        with self._lock:
            if self._bucket is None:
                self._bucket = RedisBucket.init(self._rates, self._redis, self.window_key)
                self._bucket.rates = self._rates
            bucket = self._bucket
            item = self._item(bucket)
            if not bucket.put(item):
                return max(bucket.waiting(item), 1) / 1000.0
            self._hits += 1
            if self._hits % _LEAK_EVERY == 0:
                bucket.leak(item.timestamp)
        with self._redis.pipeline() as pipe:
            pipe.incr(self._day_key())
            pipe.expire(self._day_key(), 2 * 86400)
            spent, _ = pipe.execute()
        return self._spend_day(int(spent))

    async def atry_acquire(self) -> float:
        """The same as :meth:`try_acquire`, for a coroutine: one asyncio Redis client per event loop."""
        from pyrate_limiter import RedisBucket
        from redis.asyncio import Redis as AsyncRedis

        loop = asyncio.get_running_loop()
        bucket = self._abuckets.get(loop)
        if bucket is None:
            client = AsyncRedis.from_url(
                self.url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
            )
            bucket = await RedisBucket.init(self._rates, client, self.window_key)
            bucket.rates = self._rates
            self._abuckets[loop] = bucket
        item = self._item(bucket)
        # No await between put's answer and waiting(): no other coroutine can overwrite the bucket's verdict.
        if not await bucket.put(item):
            wait = bucket.waiting(item)
            return max(int(await wait if inspect.isawaitable(wait) else wait), 1) / 1000.0
        async with bucket.redis.pipeline() as pipe:
            pipe.incr(self._day_key())
            pipe.expire(self._day_key(), 2 * 86400)
            spent, _ = await pipe.execute()
        return self._spend_day(int(spent))

"""The rate budget shared through Redis (connection extra ``rate_limit_backend``), and the fallback to each
process's own limiter when Redis does not answer. Needs the Redis of the machine (skipped, visibly, without)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest

from airflow_provider_contacts.exceptions import ContactsRateLimitError
from airflow_provider_contacts.transport.limiter import RollingWindowLimiter
from airflow_provider_contacts.transport.sync import Transport

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_client():
    redis = pytest.importorskip("redis", reason="the 'redis' extra is not installed")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except Exception as err:
        pytest.skip(
            f"Redis is not reachable at {REDIS_URL} ({type(err).__name__}): shared-budget tests skipped"
        )
    return client


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    client = _redis_client()
    name = f"contacts-test-{uuid.uuid4().hex}"
    yield name
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)


def shared_limiter(
    prefix: str, limit: int = 3, window: float = 30.0, url: str = REDIS_URL
) -> RollingWindowLimiter:
    """A limiter as one process builds it, on the budget ``loc1`` under ``prefix``."""
    from airflow_provider_contacts.transport.shared import RedisWindow

    limiter = RollingWindowLimiter(limit, window)
    limiter.shared = RedisWindow(url, "app:loc1", limit, window, limiter.hold, key_prefix=prefix)
    return limiter


def test_two_processes_share_one_window(prefix):
    first, second = shared_limiter(prefix), shared_limiter(prefix)
    assert first.try_acquire()[0] is not None
    assert second.try_acquire()[0] is not None
    assert first.try_acquire()[0] is not None
    started, delay = second.try_acquire()
    assert started is None, "the fourth request in the window is refused, whichever process asks"
    assert 0 < delay <= 30.0


def test_a_request_without_an_answer_holds_its_shared_slot_until_its_answer(prefix):
    # The slot of a request still on its way is not timed out by the window: however long it waits in a
    # server's backlog, it may still arrive and be counted. Its answer fixes when it leaves.
    first, second = shared_limiter(prefix, limit=1, window=30.0), shared_limiter(prefix, limit=1, window=30.0)
    started = first.acquire()
    member = first._shared_slots[started][0]
    client = _redis_client()
    score_ms = client.zscore(first.shared.window_key, member)
    now_ms = client.time()[0] * 1000
    assert score_ms >= now_ms + (first.hold - 1) * 1000, "booked at its start plus the hold, not a margin"
    assert second.try_acquire() == (None, 30.0), "a window from now at the soonest, whatever its start"
    first.release(started)
    started_again, delay = second.try_acquire()
    assert started_again is None and 29.0 < delay <= 30.0, "a window after the answer, not after the hold"


def test_the_async_face_takes_from_the_same_window(prefix):
    sync_side, async_side = shared_limiter(prefix, limit=2), shared_limiter(prefix, limit=2)
    sync_side.acquire()

    async def two() -> tuple:
        return await async_side._atry_acquire(), await async_side._atry_acquire()

    (taken, _), (refused, delay) = asyncio.run(two())
    assert taken is not None and refused is None and delay > 0


def test_the_shared_window_keeps_the_urgent_reserve_for_every_process(prefix):
    sensors, watcher = shared_limiter(prefix, limit=4), shared_limiter(prefix, limit=4)

    async def takes() -> list:
        return [await sensors._atry_acquire(reserve=2) for _ in range(3)] + [await watcher._atry_acquire()]

    first, second, refused, urgent = asyncio.run(takes())
    assert first[0] is not None and second[0] is not None
    assert refused[0] is None, "ordinary requests leave the last two slots of the window"
    assert urgent[0] is not None, "an urgent request of another process still finds one"


def test_a_spent_day_stops_every_process(prefix):
    first, second = shared_limiter(prefix, limit=100), shared_limiter(prefix, limit=100)
    first.acquire()
    first.update_from_headers({"X-RateLimit-Daily-Remaining": "0", "X-RateLimit-Limit-Daily": "200000"})
    with pytest.raises(ContactsRateLimitError, match="daily"):
        second.acquire()


def test_redis_down_falls_back_to_the_local_limiter_and_says_so(caplog):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    limiter = shared_limiter("contacts-test-down", limit=2, url=f"redis://127.0.0.1:{closed_port}/0")
    with caplog.at_level(logging.WARNING, logger="airflow_provider_contacts.transport.limiter"):
        assert limiter.try_acquire()[0] is not None
        assert limiter.try_acquire()[0] is not None
    assert limiter.try_acquire()[0] is None, "the local window still holds the budget"
    assert "did not answer" in caplog.text and "own limiter" in caplog.text
    assert caplog.text.count("did not answer") == 1, "one warning, then the backend is left alone a while"


def test_processes_on_one_location_earn_no_429_with_the_backend(sandbox_factory, prefix):
    """Two transports (two processes' worth) of one connection, 4 threads each, against a 6-per-2-s server."""
    sb = sandbox_factory(seed=0, rate_limit=6, rate_interval=2.0, random_seed=3)
    conn_dict = json.loads(sb.conn_env(sb.private_connection()))
    conn_dict["extra"].update(
        requests_per_10s=6, rate_limit_window=2.0, rate_limit_backend=REDIS_URL, rate_limit_key_prefix=prefix
    )
    from airflow.sdk import Connection

    extra = conn_dict.pop("extra")
    conn = Connection(conn_id="contacts_shared", extra=json.dumps(extra), **conn_dict)
    transports = [Transport.from_connection(conn) for _ in range(2)]
    location = extra["location_id"]
    errors: list[BaseException] = []

    def work(transport: Transport) -> None:
        from airflow_provider_contacts.transport.core import Call

        try:
            for _ in range(3):
                body = {"locationId": location, "pageLimit": 1, "page": 1}
                transport.request(Call.build(transport.settings, "POST", "/contacts/search", json=body))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=work, args=(t,)) for t in transports for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    stats = sb.stats()
    assert stats["rate_limited_429"] == 0
    assert stats["requests_by_route"]["POST /contacts/search"] == 24

"""The rate budget as the view reads it: from the shared Redis keys, or from this process's limiter."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import redis

from airflow_provider_contacts.operations.budget import budget_state
from airflow_provider_contacts.transport.settings import ContactsSettings
from airflow_provider_contacts.transport.shared import RedisWindow

REDIS = "redis://127.0.0.1:6379/0"


def settings(conn_id: str = "contacts_ops_unit", **extra: object) -> ContactsSettings:
    from airflow.models.connection import Connection

    conn = Connection(
        conn_id=conn_id,
        conn_type="contacts",
        host="http://127.0.0.1:9",
        login="client-id",
        password="client-secret",
        extra=json.dumps({"location_id": "locA", **extra}),
    )
    return ContactsSettings.from_connection(conn)


@pytest.fixture
def prefixes() -> Iterator[tuple[str, str]]:
    client = redis.Redis.from_url(REDIS, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    tag = uuid.uuid4().hex[:10]
    # The second is what the first would match if its brackets were read as a glob.
    pair = (f"ops[x]-{tag}", f"opsx-{tag}")
    yield pair
    for prefix in pair:
        for key in client.scan_iter(match=f"{prefix.replace('[', '[[]')}:*"):
            client.delete(key)
    client.close()


def spend(prefix: str, location: str, requests: int) -> None:
    own = settings(rate_limit_backend=REDIS, rate_limit_key_prefix=prefix).for_location(location)
    window = RedisWindow(REDIS, own.budget_key, 100, 10.0, 0.2, key_prefix=prefix)
    for _ in range(requests):
        slot, _ = window.try_acquire()
        assert slot is not None


def test_the_shared_budget_lists_each_location_of_the_app_with_its_window_and_day(prefixes):
    mine, other = prefixes
    spend(mine, "locA", 3)
    spend(mine, "locB", 5)
    spend(other, "locA", 7)
    state = budget_state(settings(rate_limit_backend=REDIS, rate_limit_key_prefix=mine))
    assert state["source"] == f"shared ({REDIS})"
    assert [(r["location_id"], r["in_window"], r["today"]) for r in state["locations"]] == [
        ("locA", 3, 3),
        ("locB", 5, 5),
    ]


def test_a_redis_password_never_reaches_the_view_and_an_unreachable_redis_is_reported():
    state = budget_state(settings(rate_limit_backend="redis://:s3cret-pass@127.0.0.1:9/0"))
    assert "s3cret-pass" not in json.dumps(state)
    assert state["source"] == "shared (redis://***@127.0.0.1:9/0)"
    assert state["locations"] == [] and "ConnectionError" in state["error"]


def test_without_a_backend_the_figures_are_this_processes_and_say_so():
    from airflow.models.connection import Connection

    from airflow_provider_contacts.transport.registry import clear_transports, get_transport

    conn = Connection(
        conn_id=f"contacts_ops_{uuid.uuid4().hex[:8]}",
        conn_type="contacts",
        host="http://127.0.0.1:9",
        login="client-id",
        password="client-secret",
        extra=json.dumps({"location_id": "locA"}),
    )
    transport = get_transport(conn)
    try:
        for _ in range(4):
            transport.limiter.acquire()
        state = budget_state(transport.settings)
    finally:
        clear_transports()
    assert state["source"] == "this process"
    assert [(r["location_id"], r["in_window"], r["today"]) for r in state["locations"]] == [("locA", 4, 4)]

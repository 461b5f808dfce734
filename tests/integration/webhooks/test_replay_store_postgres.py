"""The replay table on PostgreSQL, claimed at once from several processes' worth of engines."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from airflow_provider_contacts.webhooks.store import ReplayStore

pytestmark = pytest.mark.postgres

ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh database of its own (dropped after); skipped when PostgreSQL is unreachable."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            name = f"contacts_replay_{uuid.uuid4().hex[:8]}"
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable ({type(exc).__name__})")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_concurrent_claims_of_one_id_from_several_servers_succeed_once(database_url):
    """Eight 'API servers' (own store, own engine) create the table and claim the same ids at once."""
    servers: list[tuple[ReplayStore, Engine]] = [
        (ReplayStore(), create_engine(database_url)) for _ in range(8)
    ]
    ids = [f"wh-{i}" for i in range(25)]
    wins: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(servers))

    def serve(store: ReplayStore, engine: Engine) -> None:
        start.wait()
        store.ensure_table(engine)
        for webhook_id in ids:
            with engine.begin() as conn:
                if store.claim(conn, webhook_id, datetime.now(timezone.utc)):
                    with lock:
                        wins.append(webhook_id)

    threads = [threading.Thread(target=serve, args=server) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for _, engine in servers:
        engine.dispose()
    assert sorted(wins) == sorted(ids)

"""The replay store's first prune runs at once, even on a machine booted a minute ago."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, func, select

from airflow_provider_contacts.webhooks import store as store_module
from airflow_provider_contacts.webhooks.store import Outcome, ReplayStore, deliveries, outcomes, write_outcome


def test_the_first_prune_runs_with_a_small_monotonic_clock(tmp_path, monkeypatch):
    ticks = {"now": 60.0}  # booted a minute ago
    monkeypatch.setattr(store_module.time, "monotonic", lambda: ticks["now"])
    store, engine = (
        ReplayStore(retention=timedelta(hours=1)),
        create_engine(f"sqlite:///{tmp_path / 'seen.db'}"),
    )
    store.ensure_table(engine)
    now = datetime(2027, 1, 1, 0, 0, 30, tzinfo=timezone.utc)  # just past midnight at the year's end
    with engine.begin() as conn:
        store.claim(conn, "old", now - timedelta(hours=2))
        store.claim(conn, "new", now)
        write_outcome(conn, "c", Outcome("recorded", 200), now - timedelta(hours=2))
        write_outcome(conn, "c", Outcome("recorded", 200), now)
        assert store.prune(conn, now) == 1
        assert conn.scalar(select(func.count()).select_from(deliveries)) == 1
        assert conn.scalar(select(func.count()).select_from(outcomes)) == 1
        # Then at most every ten minutes.
        store.claim(conn, "old2", now - timedelta(hours=2))
        ticks["now"] += 599
        assert store.prune(conn, now) == 0
        ticks["now"] += 1
        assert store.prune(conn, now) == 1

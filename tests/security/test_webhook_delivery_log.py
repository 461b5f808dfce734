"""The delivery log (``contacts_webhook_outcome``): one line per delivery to an opted-in connection, nothing secret."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine

from airflow_provider_contacts.webhooks.store import (
    Outcome,
    ReplayStore,
    delivery_counts,
    recent_deliveries,
    write_outcome,
)

from .conftest import event_payload, post, stamp

COLUMNS = {
    "id",
    "conn_id",
    "received_at",
    "outcome",
    "reason",
    "http_status",
    "event_type",
    "webhook_id",
    "location_id",
    "contact_id",
}


@pytest.mark.integration
@pytest.mark.airflow_db
def test_each_delivery_leaves_one_line(security_world):
    sec = security_world
    key = sec.world.test_key
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    accepted = event_payload()
    assert post(sec, "sec_legacy_ok", accepted, key=key).json() == {"status": "recorded"}
    assert post(sec, "sec_legacy_ok", accepted, key=key).json() == {"status": "duplicate"}
    assert post(sec, "sec_legacy_ok", event_payload(), key=Ed25519PrivateKey.generate()).status_code == 401
    stale = event_payload(timestamp=stamp(timedelta(hours=3)))
    assert post(sec, "sec_legacy_ok", stale, key=key).status_code == 401
    assert post(sec, "sec_legacy_ok", {"type": "ContactUpdate"}, key=key).status_code == 400
    install = event_payload(type="INSTALL")
    assert post(sec, "sec_legacy_ok", install, key=key).json() == {"status": "ignored"}
    engine = sec.engine()
    try:
        counts = delivery_counts(engine, "sec_legacy_ok", since)
        rows = recent_deliveries(engine, "sec_legacy_ok", limit=6)
    finally:
        engine.dispose()
    assert counts == {
        "recorded": 1,
        "duplicate:seen_before": 1,
        "refused:bad_signature": 1,
        "refused:stale": 1,
        "refused:bad_payload": 1,
        "ignored:unhandled_type": 1,
    }
    assert [(r["outcome"], r["http_status"]) for r in rows] == [
        ("ignored", 200),
        ("refused", 400),
        ("refused", 401),
        ("refused", 401),
        ("duplicate", 200),
        ("recorded", 200),
    ]
    newest, first = rows[0], rows[-1]
    assert set(first) == COLUMNS and first["reason"] is None
    assert (first["event_type"], first["webhook_id"], first["location_id"], first["contact_id"]) == (
        "ContactUpdate",
        accepted["webhookId"],
        accepted["locationId"],
        accepted["id"],
    )
    assert first["received_at"].tzinfo is not None and first["received_at"] >= since
    assert newest["webhook_id"] == install["webhookId"]


def test_strings_are_cut_to_their_columns_and_outcomes_are_checked(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'log.db'}")
    ReplayStore().ensure_table(engine)
    now = datetime.now(timezone.utc)
    long = Outcome("refused", 400, "bad_payload", "T" * 5000, "w" * 5000, "l" * 5000, "c" * 5000)
    with engine.begin() as conn:
        write_outcome(conn, "x" * 1000, long, now)
    (row,) = recent_deliveries(engine, "x" * 250)
    assert (
        len(row["event_type"]),
        len(row["webhook_id"]),
        len(row["location_id"]),
        len(row["contact_id"]),
    ) == (
        64,
        200,
        64,
        64,
    )
    with pytest.raises(ValueError, match="outcome must be one of"):
        Outcome("lost", 500)
    # Before any delivery, the readers answer empty instead of failing on a missing table.
    empty = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert delivery_counts(empty, "x", now) == {} and recent_deliveries(empty, "x") == []

"""
HighLevel's own retries get through. It re-sends a delivery answered 429 with the same signed payload (its
``timestamp`` unchanged) about 10 minutes later, up to 6 more times: the last try comes about an hour after
the first. The delays are simulated by clocks, never shortened.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from airflow_provider_contacts.webhooks.receiver import ReceiverSettings, create_receiver_app
from airflow_provider_contacts.webhooks.verify import WebhookEvent
from contacts_sandbox.processes import wait_until
from contacts_sandbox.webhooks import MAX_TRIES, RETRY_DELAY, WebhookSender
from tests.integration.sandbox.test_webhooks import Subscriber

from .conftest import event_payload, post, recorded_ids, stamp

KEY = Ed25519PrivateKey.generate()
PUBLIC = base64.b64encode(
    KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()
T0 = datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)  # the retries run past midnight and the year's end
#: Seconds each retry's jitter adds to HighLevel's 10 minutes in the simulation.
JITTER = 45


class Clock:
    """A wall clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_highlevels_retries_after_429s_are_accepted_and_recorded_once():
    clock = Clock(T0)
    failures = {"left": MAX_TRIES - 1}
    recorded: list[WebhookEvent] = []
    seen: set[str] = set()

    def record(conn_id: str, event: WebhookEvent) -> str:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database is locked")
        if event.webhook_id in seen:
            return "duplicate"
        seen.add(event.webhook_id)
        recorded.append(event)
        return "recorded"

    settings = ReceiverSettings.from_extra({"webhook_public_key": PUBLIC, "location_id": "loc1"})
    client = TestClient(create_receiver_app(lambda conn_id: settings, record, clock=clock))
    body = json.dumps(
        {
            "type": "ContactCreate",
            "locationId": "loc1",
            "id": "c1",
            "webhookId": "w1",
            "timestamp": T0.isoformat().replace("+00:00", "Z"),
        }
    ).encode()
    headers = {"x-ghl-signature": base64.b64encode(KEY.sign(body)).decode()}
    statuses = []
    for attempt in range(MAX_TRIES):  # the first try and 6 retries, the same bytes each time
        clock.now = T0 + attempt * timedelta(seconds=RETRY_DELAY + JITTER)
        statuses.append(client.post("/hooks", content=body, headers=headers).status_code)
    assert clock.now - T0 > timedelta(hours=1)
    assert statuses == [429] * (MAX_TRIES - 1) + [200]
    assert [e.webhook_id for e in recorded] == ["w1"]
    # A copy later still is caught by its id, not recorded again.
    clock.now += timedelta(minutes=10)
    assert client.post("/hooks", content=body, headers=headers).json() == {"status": "duplicate"}
    # Outside the window, a copy of a delivery never accepted is refused.
    late = body.replace(b'"w1"', b'"w2"')
    clock.now = T0 + timedelta(hours=2)
    late_headers = {"x-ghl-signature": base64.b64encode(KEY.sign(late)).decode()}
    assert client.post("/hooks", content=late, headers=late_headers).status_code == 401
    assert len(recorded) == 1


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    """A subscriber that answers 429 to every try."""
    subscriber = Subscriber([429] * MAX_TRIES)
    threading.Thread(target=subscriber.server.serve_forever, daemon=True).start()
    yield subscriber
    subscriber.server.shutdown()
    subscriber.server.server_close()


def test_the_sandbox_makes_the_first_try_and_six_retries_ten_minutes_apart(subscriber):
    ticks = {"now": 30.0}  # a monotonic clock of a machine booted 30 s ago
    sender = WebhookSender([subscriber.url], clock=lambda: ticks["now"])
    try:
        sender.emit({"type": "ContactCreate", "locationId": "loc1", "id": "c1"})
        for tries in range(1, MAX_TRIES + 1):
            wait_until(lambda n=tries: len(subscriber.received) >= n, 30, f"try {tries}")
            if tries < MAX_TRIES:
                due = wait_until(sender.next_due, 30, "the retry to be queued")
                assert due == pytest.approx(ticks["now"] + RETRY_DELAY)
                ticks["now"] = due
                sender.wake()
        stats = wait_until(lambda: (s := sender.snapshot())["pending"] == 0 and s, 30, "the last answer")
    finally:
        sender.close()
    assert len(subscriber.received) == MAX_TRIES == 7
    assert {body for body, _ in subscriber.received} == {subscriber.received[0][0]}  # the same payload
    assert {h["x-ghl-signature"] for _, h in subscriber.received} == {
        subscriber.received[0][1]["x-ghl-signature"]
    }
    assert (stats["retries"], stats["lost"]) == (6, 1)


@pytest.mark.integration
@pytest.mark.airflow_db
def test_the_server_answers_429_while_the_database_is_locked_and_takes_the_retry_an_hour_later(
    security_world,
):
    """
    The first try meets a locked metadata database (429); the retry, the same bytes, carries a timestamp
    of an hour and 5 minutes ago, as HighLevel's sixth retry does, and is recorded once.
    """
    sec = security_world
    payload = event_payload(timestamp=stamp(timedelta(minutes=65)))
    body = json.dumps(payload).encode()
    locker = sqlite3.connect(sec.world.db_path, timeout=30, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        first = post(sec, "sec_ed", body, key=sec.world.test_key)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert first.status_code == 429 and first.headers["retry-after"] == "60"
    assert payload["id"] not in recorded_ids(sec)
    assert post(sec, "sec_ed", body, key=sec.world.test_key).json() == {"status": "recorded"}
    assert post(sec, "sec_ed", body, key=sec.world.test_key).json() == {"status": "duplicate"}
    assert recorded_ids(sec).count(payload["id"]) == 1

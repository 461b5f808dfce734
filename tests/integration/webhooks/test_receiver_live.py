"""
The webhook receiver inside a real ``airflow api-server``, fed by the sandbox's signed deliveries.

Refused deliveries (tampered body, wrong key, no signature, stale timestamp, replay) record nothing;
accepted ones record one asset event each, carrying the type and the ids, on the event family's asset.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from .conftest import LOCATION, WebhookWorld

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


def new_contact(world: WebhookWorld) -> str:
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    return world.sandbox.client().create_contact(locationId=LOCATION, firstName="Webhook", email=email)["id"]


def contact_events(world: WebhookWorld, contact_id: str) -> list[dict[str, Any]]:
    return [e for e in world.events() if e.get("contact_id") == contact_id]


def signed_post(world: WebhookWorld, payload: Any, raw: bytes | None = None) -> requests.Response:
    body = raw if raw is not None else json.dumps(payload).encode()
    signature = base64.b64encode(world.test_key.sign(body)).decode()
    return requests.post(
        world.receiver("contacts_test_key"), data=body, headers={"x-ghl-signature": signature}, timeout=30
    )


def event_payload(**fields: Any) -> dict[str, Any]:
    stamp = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return {
        "type": "ContactUpdate",
        "locationId": LOCATION,
        "id": "manualContact0000001",
        "timestamp": stamp,
        "webhookId": str(uuid.uuid4()),
        **fields,
    }


def test_changes_in_the_sandbox_record_events_with_type_and_ids(webhook_world):
    world = webhook_world
    client = world.sandbox.client()
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    contact_id = client.create_contact(locationId=LOCATION, firstName="Logged", email=email)["id"]
    task = client.post(
        f"/contacts/{contact_id}/tasks",
        json={"title": "Call", "dueDate": "2026-12-01T10:00:00Z", "completed": False},
    ).json()["task"]
    note = client.post(f"/contacts/{contact_id}/notes", json={"body": "private words"}).json()["note"]
    world.settled()
    assert [(e["type"], e["webhook_id"] != "") for e in contact_events(world, contact_id)] == [
        ("ContactCreate", True)
    ]
    tasks = [e for e in world.events("tasks") if e["task_id"] == task["id"]]
    notes = [e for e in world.events("notes") if e["note_id"] == note["id"]]
    assert [(e["type"], e["contact_id"]) for e in tasks] == [("TaskCreate", contact_id)]
    assert [(e["type"], e["contact_id"]) for e in notes] == [("NoteCreate", contact_id)]
    assert "private words" not in json.dumps(notes)
    # The API server's log names the event and its ids, never the body's data.
    log = world.log_path.read_text()
    assert "ContactCreate webhookId=" in log and f"contact_id={contact_id}" in log
    assert email not in log and "private words" not in log


def create_with_webhooks(world: WebhookWorld, status: str, **settings: Any) -> tuple[str, int]:
    """
    Create a contact while the sandbox's webhooks use ``settings``; restore them after.

    :return: the contact id and how many more deliveries got ``status``.
    """
    before = world.settled()["statuses"].get(status, 0)
    world.sandbox.set_webhooks(**settings)
    try:
        contact_id = new_contact(world)
        after = world.settled()["statuses"].get(status, 0)
    finally:
        world.sandbox.set_webhooks(fault="", urls=[world.receiver("contacts_webhooks")])
    return contact_id, after - before


@pytest.mark.parametrize("fault", ["tampered", "unsigned", "stale"])
def test_bad_deliveries_are_refused_with_401_and_record_nothing(webhook_world, fault):
    contact_id, refused = create_with_webhooks(webhook_world, "401", fault=fault)
    assert refused == 1
    assert contact_events(webhook_world, contact_id) == []


def test_a_wrong_key_is_refused_and_records_nothing(webhook_world):
    contact_id, refused = create_with_webhooks(
        webhook_world, "401", urls=[webhook_world.receiver("contacts_wrong_key")]
    )
    assert refused == 1
    assert contact_events(webhook_world, contact_id) == []


def test_a_replayed_delivery_is_acknowledged_and_records_nothing_more(webhook_world):
    contact_id, acknowledged = create_with_webhooks(webhook_world, "200", fault="duplicate")
    assert acknowledged == 2
    assert len(contact_events(webhook_world, contact_id)) == 1


def test_answers_for_signed_requests_that_are_not_recorded(webhook_world):
    world = webhook_world
    payload = event_payload()
    assert signed_post(world, payload).json() == {"status": "recorded"}
    replay = signed_post(world, payload)
    assert (replay.status_code, replay.json()) == (200, {"status": "duplicate"})
    install = signed_post(
        world, {"type": "INSTALL", "appId": "a", "timestamp": payload["timestamp"], "webhookId": "i-1"}
    )
    assert (install.status_code, install.json()) == (200, {"status": "ignored"})
    not_event = signed_post(world, {"hello": "world"})
    assert not_event.status_code == 400 and "type is missing" in not_event.json()["detail"]
    stale = event_payload(timestamp=(datetime.now(timezone.utc) - timedelta(hours=2)).isoformat())
    assert signed_post(world, stale).status_code == 401
    too_big = requests.post(world.receiver("contacts_test_key"), data=b"x" * (300 * 1024), timeout=30)
    assert too_big.status_code == 413
    missing = requests.post(world.receiver("contacts_test_key"), json=event_payload(), timeout=30)
    assert missing.status_code == 401
    assert len([e for e in world.events() if e["contact_id"] == "manualContact0000001"]) == 1


def test_a_burst_of_deliveries_records_each_exactly_once(webhook_world):
    """200 creates in a burst (16 deliveries in flight): none lost, none twice. 1,000 in ``make bench``."""
    world = webhook_world
    lost_before = world.settled()["lost"]
    already = len(world.events())
    client = world.sandbox.client()
    ids = [new_contact_with(client, i) for i in range(200)]
    stats = world.settled()
    events = world.events()[already:]
    assert stats["lost"] == lost_before
    assert sorted(e["contact_id"] for e in events) == sorted(ids)
    assert len({e["webhook_id"] for e in events}) == 200


def new_contact_with(client: Any, i: int) -> str:
    return client.create_contact(
        locationId=LOCATION, firstName=f"Bulk{i}", email=f"bulk{i}-{uuid.uuid4().hex[:6]}@example.com"
    )["id"]

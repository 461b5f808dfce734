"""The sandbox's webhook deliveries: HighLevel's shapes, Ed25519 signatures, retries only after a 429."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import running_sandbox
from airflow_provider_contacts.webhooks.verify import WebhookKeys, parse_event, verify_signature
from contacts_sandbox.options import parse_args
from contacts_sandbox.processes import wait_until

pytestmark = pytest.mark.integration


class Subscriber:
    """A plain HTTP server that answers each delivery with the next status of ``answers`` (then 200)."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = list(answers)
        self.received: list[tuple[bytes, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append((body, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(outer.answers.pop(0) if outer.answers else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def subscriber_factory() -> Iterator[Any]:
    started: list[Subscriber] = []

    def start(answers: list[int] | None = None) -> Subscriber:
        subscriber = Subscriber(answers or [])
        threading.Thread(target=subscriber.server.serve_forever, daemon=True).start()
        started.append(subscriber)
        return subscriber

    yield start
    for subscriber in started:
        subscriber.server.shutdown()
        subscriber.server.server_close()


def settled(sb: Any) -> dict[str, Any]:
    return wait_until(lambda: (s := sb.webhooks())["pending"] == 0 and s, 30, "webhook deliveries")


def test_every_change_is_delivered_signed_in_highlevels_shapes(subscriber_factory):
    subscriber = subscriber_factory()
    with running_sandbox(webhook_urls=[subscriber.url], rate_limit=1000) as sb:
        keys = WebhookKeys.from_text(sb.connection["extra"]["webhook_public_key"])
        client = sb.client()
        contact = client.create_contact(
            locationId=sb.location_id, firstName="Ann", email="ann@example.com", tags=["a"]
        )
        cid = contact["id"]
        client.put(f"/contacts/{cid}", json={"tags": ["b"]}).raise_for_status()
        task = client.post(
            f"/contacts/{cid}/tasks",
            json={"title": "Call", "dueDate": "2026-12-01T10:00:00Z", "completed": False},
        ).json()["task"]
        client.put(
            f"/contacts/{cid}/tasks/{task['id']}/completed", json={"completed": True}
        ).raise_for_status()
        note = client.post(f"/contacts/{cid}/notes", json={"body": "hello"}).json()["note"]
        client.delete(f"/contacts/{cid}/notes/{note['id']}").raise_for_status()
        calendar = sb.info()["calendarIds"][0]
        client.post(
            "/calendars/events/appointments",
            json={
                "calendarId": calendar,
                "locationId": sb.location_id,
                "contactId": cid,
                "startTime": "2026-12-02T10:00:00Z",
            },
            headers={"Version": "2021-04-15"},
        ).raise_for_status()
        client.delete(f"/contacts/{cid}").raise_for_status()
        stats = settled(sb)
    events = []
    for body, headers in subscriber.received:
        assert verify_signature(body, headers, keys) == "x-ghl-signature"
        events.append((parse_event(body), json.loads(body)))
    # Deliveries run concurrently: their order is not the order of the changes (nor is HighLevel's).
    assert sorted(e.type for e, _ in events) == sorted(
        [
            "ContactCreate",
            "ContactUpdate",
            "ContactTagUpdate",
            "TaskCreate",
            "TaskComplete",
            "NoteCreate",
            "NoteDelete",
            "AppointmentCreate",
            "ContactDelete",
        ]
    )
    created = next(raw for e, raw in events if e.type == "ContactCreate")
    assert (created["email"], created["firstName"], created["tags"], created["locationId"]) == (
        "ann@example.com",
        "Ann",
        ["a"],
        sb.location_id,
    )
    appointment = next(raw for e, raw in events if e.type == "AppointmentCreate")
    assert appointment["appointment"]["contactId"] == cid
    assert len({e.webhook_id for e, _ in events}) == len(events) == stats["emitted"]


@pytest.mark.parametrize(
    ("answers", "tries", "lost"),
    [([429, 429], 3, 0), ([429] * 6, 7, 0), ([429] * 7, 7, 1), ([500], 1, 1), ([503, 429], 1, 1)],
)
def test_retries_only_after_a_429_and_at_most_six_retries(subscriber_factory, answers, tries, lost):
    subscriber = subscriber_factory(answers)
    with running_sandbox(webhook_urls=[subscriber.url], webhook_retry_scale=0.0001) as sb:
        sb.client().create_contact(locationId=sb.location_id, email="retry@example.com")
        stats = settled(sb)
    assert len(subscriber.received) == tries
    assert {body for body, _ in subscriber.received} == {subscriber.received[0][0]}  # the same delivery
    assert stats["lost"] == lost and stats["retries"] == min(tries - 1, 6)


def test_webhook_urls_are_a_repeatable_flag():
    options = parse_args(
        ["--webhook-url", "http://a/1", "--webhook-url", "http://b/2", "--webhook-retry-scale", "0.01"]
    )
    assert options.webhook_urls == ["http://a/1", "http://b/2"]
    assert parse_args(options.to_argv()).webhook_urls == options.webhook_urls
    with (
        pytest.raises(ValueError, match="webhook_fault must be one of"),
        running_sandbox(webhook_fault="sometimes"),
    ):
        pass

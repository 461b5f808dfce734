"""The standalone forwarder: verified deliveries reach a real API server through its REST API, once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import uvicorn

from airflow_provider_contacts.webhooks.forwarder import AirflowAssetsClient, create_forwarder_app
from airflow_provider_contacts.webhooks.verify import WebhookKeys
from contacts_sandbox.server import bind

from .conftest import LOCATION, WebhookWorld, free_port, public_key_of, wait_until
from .test_receiver_live import contact_events, event_payload, new_contact

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


@contextmanager
def running_forwarder(
    world: WebhookWorld, airflow_url: str, store: Path, public_key: str | None = None
) -> Iterator[str]:
    """Serve a forwarder (verifying with ``public_key``, default the test's) on a free port; yield its URL."""
    token = requests.get(world.api_url + "/auth/token", timeout=30).json()["access_token"]
    app = create_forwarder_app(
        AirflowAssetsClient(airflow_url, token=token),
        WebhookKeys.from_text(public_key or public_key_of(world.test_key)),
        location_ids=[LOCATION],
        store_url=f"sqlite:///{store}",
    )
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 30, "the forwarder to start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/contacts_default"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def post_signed(world: WebhookWorld, url: str, payload: dict) -> requests.Response:
    import base64
    import json

    body = json.dumps(payload).encode()
    signature = base64.b64encode(world.test_key.sign(body)).decode()
    return requests.post(url, data=body, headers={"x-ghl-signature": signature}, timeout=30)


def test_forwarded_events_are_recorded_once(webhook_world, tmp_path):
    world = webhook_world
    payload = event_payload(id="forwardedContact0001")
    with running_forwarder(world, world.api_url, tmp_path / "seen.db") as url:
        assert post_signed(world, url, payload).json() == {"status": "recorded"}
        assert post_signed(world, url, payload).json() == {"status": "duplicate"}
        assert requests.post(url, json=payload, timeout=30).status_code == 401
    assert [e["type"] for e in contact_events(world, "forwardedContact0001")] == ["ContactUpdate"]


def test_an_unreachable_airflow_gets_a_429_and_the_retry_is_accepted(webhook_world, tmp_path):
    world = webhook_world
    payload = event_payload(id="forwardedContact0002")
    store = tmp_path / "seen.db"
    with running_forwarder(world, f"http://127.0.0.1:{free_port()}", store) as url:
        refused = post_signed(world, url, payload)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert contact_events(world, "forwardedContact0002") == []
    # HighLevel's retry, once Airflow is reachable: the released claim lets it through.
    with running_forwarder(world, world.api_url, store) as url:
        assert post_signed(world, url, payload).json() == {"status": "recorded"}
    assert len(contact_events(world, "forwardedContact0002")) == 1


def test_a_sandbox_delivery_through_the_forwarder(webhook_world, tmp_path):
    """The sandbox's own key: the forwarder configured like a deployment, fed by the sandbox."""
    world = webhook_world
    with running_forwarder(
        world, world.api_url, tmp_path / "seen.db", world.sandbox.webhook_public_key
    ) as url:
        world.sandbox.set_webhooks(urls=[url])
        try:
            contact_id = new_contact(world)
            world.settled()
        finally:
            world.sandbox.set_webhooks(urls=[world.receiver("contacts_webhooks")])
    assert [e["type"] for e in contact_events(world, contact_id)] == ["ContactCreate"]

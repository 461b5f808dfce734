"""The receiving app's answers and the replay table, without Airflow (the plugin's path is tested live)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.webhooks.receiver import ReceiverSettings, create_receiver_app
from airflow_provider_contacts.webhooks.store import ReplayStore, deliveries
from airflow_provider_contacts.webhooks.verify import WebhookEvent

KEY = Ed25519PrivateKey.generate()
PUBLIC = base64.b64encode(
    KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()


def signed(payload: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"x-ghl-signature": base64.b64encode(KEY.sign(body)).decode()}


def payload(**fields: object) -> dict[str, object]:
    stamp = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return {
        "type": "ContactCreate",
        "locationId": "loc1",
        "id": "c1",
        "timestamp": stamp,
        "webhookId": "w1",
        **fields,
    }


@pytest.fixture
def recorded() -> list[WebhookEvent]:
    return []


@pytest.fixture
def client(recorded):
    def settings_for(conn_id: str) -> ReceiverSettings | None:
        if conn_id != "contacts_default":
            return None
        return ReceiverSettings.from_extra({"webhook_public_key": PUBLIC, "location_id": "loc1"})

    def record(conn_id: str, event: WebhookEvent) -> str:
        if event.ids.get("contact_id") == "boom":
            raise RuntimeError("database is locked")
        recorded.append(event)
        return "recorded"

    return TestClient(create_receiver_app(settings_for, record, max_body=4096))


def test_signed_event_is_recorded(client, recorded):
    body, headers = signed(payload())
    answer = client.post("/contacts_default", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json() == {"status": "recorded"}
    assert [e.ids for e in recorded] == [{"contact_id": "c1"}]


def test_unknown_connection_is_401(client, recorded):
    body, headers = signed(payload())
    assert client.post("/other", content=body, headers=headers).status_code == 401
    assert recorded == []


def test_over_the_size_limit_is_413_before_anything_else(client, recorded):
    body, headers = signed(payload(padding="x" * 5000))
    answer = client.post("/contacts_default", content=body, headers=headers)
    assert answer.status_code == 413 and recorded == []


def test_signed_body_that_is_not_an_event_is_400(client, recorded):
    body, headers = signed(payload(webhookId=None))
    answer = client.post("/contacts_default", content=body, headers=headers)
    assert answer.status_code == 400 and "webhookId" in answer.json()["detail"]
    assert recorded == []


def test_unsigned_garbage_is_401_not_400(client):
    assert client.post("/contacts_default", content=b"garbage").status_code == 401


def test_unhandled_type_is_200_and_not_recorded(client, recorded):
    body, headers = signed(payload(type="INSTALL", locationId=None, id=None))
    answer = client.post("/contacts_default", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json() == {"status": "ignored"} and recorded == []


def test_stale_timestamp_is_401(client, recorded):
    old = (datetime.now(timezone.utc) - timedelta(minutes=91)).isoformat()
    body, headers = signed(payload(timestamp=old))
    answer = client.post("/contacts_default", content=body, headers=headers)
    assert answer.status_code == 401 and "window" in answer.json()["detail"] and recorded == []


def test_recording_failure_asks_for_a_retry_with_429(client, caplog):
    body, headers = signed(payload(id="boom", email="secret@example.com"))
    answer = client.post("/contacts_default", content=body, headers=headers)
    assert answer.status_code == 429 and answer.headers["retry-after"] == "60"
    assert "secret@example.com" not in caplog.text and "boom" in caplog.text


def test_unusable_key_in_the_connection_is_an_error_naming_the_field():
    with pytest.raises(ContactsConfigError, match=r"extra\.webhook_public_key") as refused:
        ReceiverSettings.from_extra({"webhook_public_key": "nope", "location_id": "loc1"})
    assert "nope" not in str(refused.value)


class TestReplayStore:
    def test_an_id_is_claimed_once_across_restarts(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'seen.db'}"
        now = datetime.now(timezone.utc)
        first, engine = ReplayStore(), create_engine(url)
        first.ensure_table(engine)
        with engine.begin() as conn:
            assert first.claim(conn, "w1", now) is True
        with engine.begin() as conn:
            assert first.claim(conn, "w1", now) is False
        engine.dispose()
        # A new process (store and engine) sees the same table.
        second, engine = ReplayStore(), create_engine(url)
        second.ensure_table(engine)
        with engine.begin() as conn:
            assert second.claim(conn, "w1", now) is False
            assert second.claim(conn, "w2", now) is True

    def test_a_rolled_back_claim_is_forgotten(self, tmp_path):
        store, engine = ReplayStore(), create_engine(f"sqlite:///{tmp_path / 'seen.db'}")
        store.ensure_table(engine)
        with engine.connect() as conn:
            assert store.claim(conn, "w1", datetime.now(timezone.utc))
            conn.rollback()
        with engine.begin() as conn:
            assert store.claim(conn, "w1", datetime.now(timezone.utc))

    def test_prune_forgets_ids_past_the_retention(self, tmp_path):
        store, engine = (
            ReplayStore(retention=timedelta(hours=1)),
            create_engine(f"sqlite:///{tmp_path / 'seen.db'}"),
        )
        store.ensure_table(engine)
        now = datetime.now(timezone.utc)
        with engine.begin() as conn:
            store.claim(conn, "old", now - timedelta(hours=2))
            store.claim(conn, "new", now)
            assert store.prune(conn, now) == 1
            assert conn.scalar(select(func.count()).select_from(deliveries)) == 1


def test_an_unreadable_connection_asks_for_a_retry(recorded):
    def broken(conn_id: str) -> ReceiverSettings:
        raise ConnectionError("secrets backend down")

    client = TestClient(create_receiver_app(broken, lambda conn_id, event: "recorded"))
    body, headers = signed(payload())
    answer = client.post("/contacts_default", content=body, headers=headers)
    assert answer.status_code == 429 and recorded == []


class TestForwarderEnvironment:
    BASE = {"CONTACTS_WEBHOOK_AIRFLOW_URL": "http://127.0.0.1:9", "CONTACTS_WEBHOOK_AIRFLOW_TOKEN": "t"}

    def test_it_takes_the_listed_locations_only(self, monkeypatch, tmp_path):
        from airflow_provider_contacts.webhooks.forwarder import app_from_env

        env = {
            **self.BASE,
            "CONTACTS_WEBHOOK_PUBLIC_KEY": PUBLIC,
            "CONTACTS_WEBHOOK_LOCATION_IDS": "loc2, loc1",
            "CONTACTS_WEBHOOK_STORE_URL": f"sqlite:///{tmp_path / 'seen.db'}",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        client = TestClient(app_from_env())
        body, headers = signed(payload(locationId="elsewhere"))
        answer = client.post("/contacts_default", content=body, headers=headers)
        assert answer.status_code == 403
        assert client.post("/other", content=body, headers=headers).json() == {
            "detail": "not a verified delivery"
        }

    @pytest.mark.parametrize(
        ("env", "field"),
        [
            ({"CONTACTS_WEBHOOK_PUBLIC_KEY": PUBLIC}, "location_id"),
            ({"CONTACTS_WEBHOOK_LOCATION_IDS": "loc1"}, "CONTACTS_WEBHOOK_PUBLIC_KEY"),
            (
                {
                    "CONTACTS_WEBHOOK_PUBLIC_KEY": PUBLIC,
                    "CONTACTS_WEBHOOK_LOCATION_IDS": "l",
                    "CONTACTS_WEBHOOK_MAX_AGE": "nan",
                },
                "webhook_max_age",
            ),
        ],
    )
    def test_unusable_settings_stop_it_naming_the_field(self, monkeypatch, env, field):
        from airflow_provider_contacts.webhooks.forwarder import app_from_env

        for name in (
            "CONTACTS_WEBHOOK_PUBLIC_KEY",
            "CONTACTS_WEBHOOK_LOCATION_IDS",
            "CONTACTS_WEBHOOK_MAX_AGE",
        ):
            monkeypatch.delenv(name, raising=False)
        for name, value in {**self.BASE, **env}.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(ContactsConfigError, match=field):
            app_from_env()


def test_a_foreign_location_is_403_and_not_recorded(client, recorded):
    body, headers = signed(payload(locationId="loc2"))
    answer = client.post("/contacts_default", content=body, headers=headers)
    assert answer.status_code == 403 and recorded == []


def test_the_delivery_log_gets_one_line_per_delivery_to_an_opted_in_connection():
    lines: list[tuple[str, str]] = []
    settings = ReceiverSettings.from_extra({"webhook_public_key": PUBLIC, "location_id": "loc1"})
    app = create_receiver_app(
        lambda conn_id: settings if conn_id == "hooks" else None,
        lambda conn_id, event: "recorded",
        log_outcome=lambda conn_id, outcome, at: lines.append((conn_id, outcome.key())),
    )
    client = TestClient(app)
    body, headers = signed(payload())
    client.post("/hooks", content=body, headers=headers)
    client.post("/hooks", content=body)
    client.post("/nobody", content=body, headers=headers)
    assert lines == [("hooks", "recorded"), ("hooks", "refused:bad_signature")]

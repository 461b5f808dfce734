"""Verification of HighLevel webhook deliveries: signatures, timestamp window, event shape."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from airflow_provider_contacts.webhooks.verify import (
    HIGHLEVEL_LEGACY_PUBLIC_KEY,
    LEGACY_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    WebhookKeys,
    WebhookRefused,
    check_fresh,
    load_public_key,
    parse_event,
    verify_signature,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def spki_base64(private_key: Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def pem(private_key: rsa.RSAPrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def event_body(**fields: object) -> bytes:
    payload = {
        "type": "ContactCreate",
        "locationId": "ve9EPM428h8vShlRW1KT",
        "id": "nmFmQEsNgz6AVpgLVUJ0",
        "email": "jane@example.com",
        "timestamp": "2026-03-01T11:59:30.000Z",
        "webhookId": "wh-1",
        **fields,
    }
    return json.dumps({k: v for k, v in payload.items() if v is not None}).encode()


@pytest.fixture(scope="module")
def ed_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ed_sign(key: Ed25519PrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body)).decode()


def rsa_sign(key: rsa.RSAPrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


class TestEd25519:
    def test_valid_signature_verifies(self, ed_key):
        body = event_body()
        keys = WebhookKeys.from_text(spki_base64(ed_key))
        assert verify_signature(body, {SIGNATURE_HEADER: ed_sign(ed_key, body)}, keys) == SIGNATURE_HEADER

    def test_pem_key_is_accepted(self, ed_key):
        text = (
            ed_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        body = event_body()
        assert verify_signature(body, {SIGNATURE_HEADER: ed_sign(ed_key, body)}, WebhookKeys.from_text(text))

    def test_tampered_body_is_refused(self, ed_key):
        body = event_body()
        signature = ed_sign(ed_key, body)
        with pytest.raises(WebhookRefused) as refused:
            verify_signature(
                body.replace(b"jane", b"john"),
                {SIGNATURE_HEADER: signature},
                WebhookKeys.from_text(spki_base64(ed_key)),
            )
        assert refused.value.status == 401

    def test_wrong_key_is_refused(self, ed_key):
        body = event_body()
        other = WebhookKeys.from_text(spki_base64(Ed25519PrivateKey.generate()))
        with pytest.raises(WebhookRefused, match="does not verify"):
            verify_signature(body, {SIGNATURE_HEADER: ed_sign(ed_key, body)}, other)

    def test_missing_signature_is_refused(self, ed_key):
        with pytest.raises(WebhookRefused, match="no verifiable signature") as refused:
            verify_signature(event_body(), {}, WebhookKeys.from_text(spki_base64(ed_key)))
        assert refused.value.status == 401

    def test_signature_that_is_not_base64_is_refused(self, ed_key):
        with pytest.raises(WebhookRefused, match="not base64"):
            verify_signature(
                event_body(), {SIGNATURE_HEADER: "%%%"}, WebhookKeys.from_text(spki_base64(ed_key))
            )

    def test_no_fallback_to_legacy_when_the_current_signature_is_bad(self, ed_key, rsa_key):
        body = event_body()
        keys = WebhookKeys.from_text(spki_base64(ed_key), pem(rsa_key))
        headers = {
            SIGNATURE_HEADER: ed_sign(Ed25519PrivateKey.generate(), body),
            LEGACY_SIGNATURE_HEADER: rsa_sign(rsa_key, body),
        }
        with pytest.raises(WebhookRefused):
            verify_signature(body, headers, keys)


class TestLegacyRsa:
    def test_valid_legacy_signature_verifies_without_an_ed25519_key(self, rsa_key):
        body = event_body()
        keys = WebhookKeys.from_text(None, pem(rsa_key))
        assert (
            verify_signature(body, {LEGACY_SIGNATURE_HEADER: rsa_sign(rsa_key, body)}, keys)
            == LEGACY_SIGNATURE_HEADER
        )

    def test_legacy_header_is_used_when_the_current_one_is_missing(self, ed_key, rsa_key):
        body = event_body()
        keys = WebhookKeys.from_text(spki_base64(ed_key), pem(rsa_key))
        assert (
            verify_signature(body, {LEGACY_SIGNATURE_HEADER: rsa_sign(rsa_key, body)}, keys)
            == LEGACY_SIGNATURE_HEADER
        )

    def test_tampered_body_is_refused(self, rsa_key):
        body = event_body()
        keys = WebhookKeys.from_text(None, pem(rsa_key))
        with pytest.raises(WebhookRefused, match="does not verify"):
            verify_signature(body + b" ", {LEGACY_SIGNATURE_HEADER: rsa_sign(rsa_key, body)}, keys)

    def test_highlevel_published_key_is_the_default_and_refuses_other_signers(self, rsa_key):
        keys = WebhookKeys.from_text(None)
        assert keys.legacy_rsa is not None and keys.legacy_rsa.key_size == 4096
        body = event_body()
        with pytest.raises(WebhookRefused, match="does not verify"):
            verify_signature(body, {LEGACY_SIGNATURE_HEADER: rsa_sign(rsa_key, body)}, keys)

    def test_key_kinds_are_checked(self, ed_key, rsa_key):
        with pytest.raises(ValueError, match="webhook_public_key must be an Ed25519 key"):
            WebhookKeys.from_text(pem(rsa_key))
        with pytest.raises(ValueError, match="legacy webhook key must be an RSA key"):
            WebhookKeys.from_text(None, spki_base64(ed_key))
        with pytest.raises(ValueError, match="not a PEM or base64"):
            load_public_key("not a key")
        assert load_public_key(HIGHLEVEL_LEGACY_PUBLIC_KEY) is not None


class TestTimestamp:
    @pytest.mark.parametrize("age", [0, 299, 3600, 5399, -59])
    def test_inside_the_window_passes(self, age):
        stamp = (NOW - timedelta(seconds=age)).isoformat().replace("+00:00", "Z")
        check_fresh(parse_event(event_body(timestamp=stamp)), NOW)

    @pytest.mark.parametrize("age", [5401, 86400, -61])
    def test_outside_the_window_is_refused_with_401(self, age):
        stamp = (NOW - timedelta(seconds=age)).isoformat().replace("+00:00", "Z")
        with pytest.raises(WebhookRefused, match="window") as refused:
            check_fresh(parse_event(event_body(timestamp=stamp)), NOW)
        assert refused.value.status == 401

    def test_window_is_configurable(self):
        event = parse_event(event_body(timestamp="2026-03-01T11:50:00Z"))
        check_fresh(event, NOW)
        with pytest.raises(WebhookRefused):
            check_fresh(event, NOW, max_age=300)


class TestParse:
    def test_contact_event(self):
        event = parse_event(event_body())
        assert (event.type, event.family, event.location_id, event.webhook_id) == (
            "ContactCreate",
            "contacts",
            "ve9EPM428h8vShlRW1KT",
            "wh-1",
        )
        assert event.ids == {"contact_id": "nmFmQEsNgz6AVpgLVUJ0"}
        assert "jane" not in json.dumps(event.extra()) and "jane" not in event.describe()

    @pytest.mark.parametrize(
        ("kind", "family", "key"),
        [
            ("TaskComplete", "tasks", "task_id"),
            ("NoteUpdate", "notes", "note_id"),
            ("TaskDelete", "tasks", "task_id"),
        ],
    )
    def test_child_events_name_their_contact(self, kind, family, key):
        event = parse_event(event_body(type=kind, id="child1", contactId="c1"))
        assert event.family == family
        assert event.ids == {key: "child1", "contact_id": "c1"}

    def test_task_without_contact(self):
        assert parse_event(event_body(type="TaskCreate", id="t1")).ids == {"task_id": "t1"}

    def test_appointment_event(self):
        event = parse_event(
            event_body(type="AppointmentCreate", id=None, appointment={"id": "a1", "contactId": "c1"})
        )
        assert event.family == "appointments"
        assert event.ids == {"appointment_id": "a1", "contact_id": "c1"}

    def test_unhandled_type_parses_without_family(self):
        event = parse_event(event_body(type="INSTALL", locationId=None, id=None))
        assert event.family is None and event.ids == {}

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b"not json", "not JSON"),
            (b"[1, 2]", "not a JSON object"),
            (event_body(type=None), "type is missing"),
            (event_body(webhookId=None), "webhookId is missing"),
            (event_body(timestamp=None), "timestamp is missing"),
            (event_body(timestamp="yesterday"), "not an ISO 8601"),
            (event_body(locationId=None), "locationId is missing"),
            (event_body(id=None), "id is missing"),
            (event_body(type="AppointmentCreate"), "appointment is missing"),
        ],
    )
    def test_not_an_event_is_400_naming_the_field(self, body, reason):
        with pytest.raises(WebhookRefused, match=reason) as refused:
            parse_event(body)
        assert refused.value.status == 400

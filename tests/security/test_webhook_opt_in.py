"""Only connections that opted in receive webhooks; every other id gets one answer and is cached negatively."""

from __future__ import annotations

import json
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from airflow_provider_contacts.webhooks.store import recent_deliveries

from .conftest import UNAUTHENTICATED, event_payload, post, recorded_ids
from .counting_backend import lookups

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


def test_every_id_that_does_not_receive_webhooks_gets_the_same_answer(security_world):
    sec = security_world
    key = sec.world.test_key
    payload = event_payload()
    answers = set()
    made_up = f"sec_nosuch_{uuid.uuid4().hex[:8]}"
    for conn_id in (made_up, "sec_plain"):
        for signer in (None, Ed25519PrivateKey.generate(), key):  # unsigned, a stranger's key, a valid one
            answer = post(sec, conn_id, payload, key=signer)
            answers.add((answer.status_code, answer.text))
    # A bad signature on a connection that does receive webhooks looks the same.
    for signer in (None, Ed25519PrivateKey.generate()):
        answer = post(sec, "sec_ed", payload, key=signer)
        answers.add((answer.status_code, answer.text))
    assert len(answers) == 1, answers
    status, text = answers.pop()
    assert status == 401 and json.loads(text) == UNAUTHENTICATED
    assert payload["id"] not in recorded_ids(sec)
    # Nothing of the made-up id or the connection that did not opt in reaches the delivery log.
    engine = sec.engine()
    assert recent_deliveries(engine, made_up) == [] and recent_deliveries(engine, "sec_plain") == []
    engine.dispose()


def test_a_flood_of_a_made_up_id_reaches_the_secrets_backend_once(security_world):
    sec = security_world
    made_up = f"sec_flood_{uuid.uuid4().hex[:8]}"
    before_plain = lookups(sec.lookups, "sec_plain")
    for _ in range(25):
        assert post(sec, made_up, event_payload()).status_code == 401
        assert post(sec, "sec_plain", event_payload()).status_code == 401
    assert lookups(sec.lookups, made_up) == 1
    assert lookups(sec.lookups, "sec_plain") - before_plain <= 1
    # An id Airflow could not even name is never looked up.
    assert post(sec, "bad%20id", event_payload()).status_code == 401
    assert lookups(sec.lookups, "bad id") == 0

"""A delivery signed only with HighLevel's legacy key (one key for every app) is refused unless accepted."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .conftest import UNAUTHENTICATED, event_payload, latest_delivery, post, recorded_ids

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


def test_a_legacy_only_delivery_is_refused_when_the_connection_has_an_ed25519_key(security_world):
    sec = security_world
    payload = event_payload()
    refused = post(sec, "sec_ed", payload, legacy=True)
    assert (refused.status_code, refused.json()) == (401, UNAUTHENTICATED)
    assert payload["id"] not in recorded_ids(sec)
    assert latest_delivery(sec, "sec_ed") == ("refused", "legacy_refused", 401)


def test_a_connection_that_accepts_legacy_deliveries_records_them(security_world):
    sec = security_world
    payload = event_payload()
    accepted = post(sec, "sec_legacy_ok", payload, legacy=True)
    assert accepted.json() == {"status": "recorded"}
    assert recorded_ids(sec).count(payload["id"]) == 1
    # With both headers, only the Ed25519 one counts: a bad one is not saved by a good legacy one.
    both = event_payload()
    assert post(sec, "sec_legacy_ok", both, key=Ed25519PrivateKey.generate(), legacy=True).status_code == 401
    assert both["id"] not in recorded_ids(sec)

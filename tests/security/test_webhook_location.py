"""An event of a location that is not the connection's (nor one of an agency's installs) records nothing."""

from __future__ import annotations

import pytest

from airflow_provider_contacts.webhooks.store import delivery_counts

from .conftest import OTHER, SECOND, event_payload, post, recorded_ids, stamp

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


def test_an_event_of_another_location_is_refused_and_records_nothing(security_world):
    sec = security_world
    payload = event_payload(locationId=OTHER)
    answer = post(sec, "sec_ed", payload, key=sec.world.test_key)
    assert answer.status_code == 403
    assert payload["id"] not in recorded_ids(sec, OTHER)
    # The same event of the connection's own location goes through.
    own = event_payload()
    assert post(sec, "sec_ed", own, key=sec.world.test_key).json() == {"status": "recorded"}
    assert payload["webhookId"] != own["webhookId"]


def test_an_agency_connection_takes_the_locations_where_its_app_is_installed_only(security_world):
    sec = security_world
    key = sec.world.test_key
    since = stamp()
    installed = event_payload(locationId=SECOND)
    foreign = event_payload(locationId=OTHER)
    assert post(sec, "sec_agency", installed, key=key).json() == {"status": "recorded"}
    assert post(sec, "sec_agency", foreign, key=key).status_code == 403
    assert recorded_ids(sec, SECOND).count(installed["id"]) == 1
    assert foreign["id"] not in recorded_ids(sec, OTHER)
    engine = sec.engine()
    from airflow_provider_contacts.coercion import to_datetime

    counts = delivery_counts(engine, "sec_agency", to_datetime(since))
    engine.dispose()
    assert counts == {"recorded": 1, "refused:foreign_location": 1}

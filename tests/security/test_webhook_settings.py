"""``webhook_max_age`` and ``webhook_legacy_public_key`` are checked: an unusable value is an error, not a default."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.webhooks.receiver import ReceiverSettings
from airflow_provider_contacts.webhooks.verify import MAX_AGE_LIMIT
from contacts_sandbox.processes import wait_until

from .conftest import UNAUTHENTICATED, event_payload, post, recorded_ids, stamp

PUBLIC = "MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg="


def settings(**extra: object) -> ReceiverSettings | None:
    return ReceiverSettings.from_extra(
        {"webhook_public_key": PUBLIC, "location_id": "loc1", **extra}, "connection 'hooks'"
    )


@pytest.mark.parametrize(
    "value",
    ["nan", float("nan"), "inf", float("inf"), "-inf", 0, "0", -300, "abc", "", MAX_AGE_LIMIT + 1, True],
)
def test_an_unusable_webhook_max_age_is_an_error_naming_the_field(value):
    with pytest.raises(ContactsConfigError, match=r"connection 'hooks': extra\.webhook_max_age must be"):
        settings(webhook_max_age=value)


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, 5400.0), ("600", 600.0), (MAX_AGE_LIMIT, MAX_AGE_LIMIT)]
)
def test_a_usable_webhook_max_age(value, seconds):
    read = settings(webhook_max_age=value)
    assert read is not None and read.max_age == seconds


@pytest.mark.parametrize("value", ["", "   ", "\n", 0, []])
def test_an_empty_legacy_key_is_an_error(value):
    with pytest.raises(ContactsConfigError, match=r"extra\.webhook_legacy_public_key is empty"):
        settings(webhook_legacy_public_key=value, webhook_accept_legacy=True)


@pytest.mark.parametrize("value", ["maybe", 2, "Ture"])
def test_an_unreadable_webhook_accept_legacy_is_an_error(value):
    with pytest.raises(ContactsConfigError, match=r"extra\.webhook_accept_legacy must be true or false"):
        settings(webhook_accept_legacy=value)


def test_a_connection_with_nulls_does_not_receive_webhooks():
    extra = {"webhook_public_key": None, "webhook_accept_legacy": None, "webhook_max_age": None}
    assert ReceiverSettings.from_extra(extra) is None


def test_an_unset_legacy_key_is_highlevels_and_used_only_when_legacy_is_accepted():
    unset = settings(webhook_legacy_public_key=None, webhook_accept_legacy="yes")
    assert unset is not None and unset.keys.legacy_rsa is not None and unset.keys.legacy_rsa.key_size == 4096
    refused = settings()
    assert refused is not None and refused.keys.legacy_rsa is None


def test_a_connection_without_a_location_cannot_receive_webhooks():
    with pytest.raises(ContactsConfigError, match=r"extra\.location_id is required"):
        ReceiverSettings.from_extra({"webhook_public_key": PUBLIC}, "connection 'hooks'")


@pytest.mark.integration
@pytest.mark.airflow_db
def test_nan_does_not_switch_the_window_off_on_the_server(security_world):
    sec = security_world
    payload = event_payload(timestamp=stamp(timedelta(days=3)))
    answer = post(sec, "sec_nan", payload, key=sec.world.test_key)
    assert (answer.status_code, answer.json()) == (401, UNAUTHENTICATED)
    assert payload["id"] not in recorded_ids(sec)
    wait_until(lambda: "extra.webhook_max_age must be" in sec.world.log_path.read_text(), 30, "the log line")


@pytest.mark.integration
@pytest.mark.airflow_db
def test_an_empty_legacy_key_does_not_fall_back_to_the_built_in_one_on_the_server(security_world):
    sec = security_world
    payload = event_payload()
    answer = post(sec, "sec_empty_legacy", payload, key=sec.world.test_key)
    assert (answer.status_code, answer.json()) == (401, UNAUTHENTICATED)
    assert payload["id"] not in recorded_ids(sec)
    wait_until(
        lambda: "extra.webhook_legacy_public_key is empty" in sec.world.log_path.read_text(),
        30,
        "the log line",
    )

"""``location_id`` on every operator, sensor and trigger: templated, passed to the hook, serialised."""

from __future__ import annotations

import inspect

import pytest

from airflow_provider_contacts import operators, sensors
from airflow_provider_contacts.operators.agency import InstalledLocationsOperator
from airflow_provider_contacts.operators.base import BaseContactsOperator
from airflow_provider_contacts.sensors.contacts import ContactsBaseSensor
from airflow_provider_contacts.triggers.contacts import (
    ContactChangedEventTrigger,
    ContactChangedPollTrigger,
    ContactSearchTrigger,
)

OPERATORS = [
    cls
    for _, cls in inspect.getmembers(operators, inspect.isclass)
    if issubclass(cls, BaseContactsOperator) and cls is not BaseContactsOperator
]
SENSORS = [
    cls
    for _, cls in inspect.getmembers(sensors, inspect.isclass)
    if issubclass(cls, ContactsBaseSensor) and not inspect.isabstract(cls)
]


@pytest.mark.parametrize("cls", OPERATORS + SENSORS, ids=lambda c: c.__name__)
def test_location_id_is_templated(cls: type) -> None:
    assert "location_id" in cls.template_fields


def test_the_operator_hook_and_the_sensor_hook_use_the_location() -> None:
    op = operators.DeleteContactOperator(task_id="t", contact_id="c1", location_id="locB")
    assert op.hook._location_id == "locB"
    sensor = sensors.ContactSearchSensor(task_id="s", query="x", location_id="locC")
    assert sensor.hook._location_id == "locC"
    assert operators.DeleteContactOperator(task_id="u", contact_id="c1").hook._location_id is None


@pytest.mark.parametrize("cls", [ContactSearchTrigger, ContactChangedPollTrigger, ContactChangedEventTrigger])
def test_triggers_carry_the_location(cls: type) -> None:
    kwargs = {"query": "x"} if cls is ContactSearchTrigger else {"event": "any"}
    trigger = cls(contacts_conn_id="agency", location_id="locB", **kwargs)
    _classpath, serialized = trigger.serialize()
    assert serialized["location_id"] == "locB"
    again = cls(**serialized)
    assert again._hook()._location_id == "locB"
    if cls is ContactChangedEventTrigger:
        # A watcher per location: its own watermark and its own shared poll.
        assert again.watermark_key == "contacts_changed_watermark__locB"
        other = cls(contacts_conn_id="agency", location_id="locC", event="any")
        assert other.shared_stream_key() != again.shared_stream_key()
        assert cls(contacts_conn_id="agency", event="any").watermark_key == "contacts_changed_watermark"


def test_installed_locations_operator_is_templated() -> None:
    op = InstalledLocationsOperator(task_id="ids", contacts_conn_id="agency", query="{{ params.q }}")
    assert set(op.template_fields) == {"contacts_conn_id", "query"}

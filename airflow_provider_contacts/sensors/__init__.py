"""Sensors for the Contacts API's polling triggers (poke, reschedule and deferrable)."""

from __future__ import annotations

from airflow_provider_contacts.sensors.contacts import (
    BusinessContactsSensor,
    ContactAppointmentSensor,
    ContactChangedSensor,
    ContactNoteSensor,
    ContactsBaseSensor,
    ContactSearchSensor,
    ContactTaskSensor,
    DuplicateContactSensor,
)

__all__ = [
    "BusinessContactsSensor",
    "ContactAppointmentSensor",
    "ContactChangedSensor",
    "ContactNoteSensor",
    "ContactSearchSensor",
    "ContactTaskSensor",
    "ContactsBaseSensor",
    "DuplicateContactSensor",
]

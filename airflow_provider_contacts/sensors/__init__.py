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
    run_window,
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
    "run_window",
]

"""Deferrable triggers for the Contacts sensors, and ContactChangedTrigger for asset watchers."""

from __future__ import annotations

from airflow_provider_contacts.triggers.contacts import (
    BusinessContactsTrigger,
    ContactAppointmentTrigger,
    ContactChangedEventTrigger,
    ContactChangedPollTrigger,
    ContactChangedTrigger,
    ContactNoteTrigger,
    ContactSearchTrigger,
    ContactsPollTrigger,
    ContactTaskTrigger,
    DuplicateContactTrigger,
)

__all__ = [
    "BusinessContactsTrigger",
    "ContactAppointmentTrigger",
    "ContactChangedEventTrigger",
    "ContactChangedPollTrigger",
    "ContactChangedTrigger",
    "ContactNoteTrigger",
    "ContactSearchTrigger",
    "ContactTaskTrigger",
    "ContactsPollTrigger",
    "DuplicateContactTrigger",
]

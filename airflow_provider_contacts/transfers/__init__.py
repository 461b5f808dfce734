"""Operators that land HighLevel contacts (and their tasks, notes, appointments) in other systems."""

from airflow_provider_contacts.transfers.contacts_to_object_storage import ContactsToObjectStorageOperator
from airflow_provider_contacts.transfers.contacts_to_sql import ContactsToSqlOperator

__all__ = ["ContactsToObjectStorageOperator", "ContactsToSqlOperator"]

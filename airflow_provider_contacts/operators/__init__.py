"""Operators for the Contacts API: one small class per write action, and SyncContactsOperator."""

from __future__ import annotations

from airflow_provider_contacts.operators.agency import InstalledLocationsOperator, installed_location_ids
from airflow_provider_contacts.operators.automation import (
    AddContactToCampaignOperator,
    AddContactToWorkflowOperator,
    RemoveContactFromAllCampaignsOperator,
    RemoveContactFromCampaignOperator,
    RemoveContactFromWorkflowOperator,
)
from airflow_provider_contacts.operators.base import BaseContactsOperator, ContactOperator
from airflow_provider_contacts.operators.contacts import (
    AddContactFollowersOperator,
    AddContactTagsOperator,
    BulkUpdateContactTagsOperator,
    CreateContactOperator,
    DeleteContactOperator,
    RemoveContactFollowersOperator,
    RemoveContactTagsOperator,
    UpdateContactOperator,
    UpdateContactsBusinessOperator,
    UpsertContactOperator,
)
from airflow_provider_contacts.operators.notes import (
    CreateContactNoteOperator,
    DeleteContactNoteOperator,
    UpdateContactNoteOperator,
)
from airflow_provider_contacts.operators.sync import SyncContactsOperator
from airflow_provider_contacts.operators.tasks import (
    CompleteContactTaskOperator,
    CreateContactTaskOperator,
    DeleteContactTaskOperator,
    UpdateContactTaskOperator,
)

__all__ = [
    "AddContactFollowersOperator",
    "AddContactTagsOperator",
    "AddContactToCampaignOperator",
    "AddContactToWorkflowOperator",
    "BaseContactsOperator",
    "BulkUpdateContactTagsOperator",
    "CompleteContactTaskOperator",
    "ContactOperator",
    "CreateContactNoteOperator",
    "CreateContactOperator",
    "CreateContactTaskOperator",
    "DeleteContactNoteOperator",
    "DeleteContactOperator",
    "DeleteContactTaskOperator",
    "InstalledLocationsOperator",
    "RemoveContactFollowersOperator",
    "RemoveContactFromAllCampaignsOperator",
    "RemoveContactFromCampaignOperator",
    "RemoveContactFromWorkflowOperator",
    "RemoveContactTagsOperator",
    "SyncContactsOperator",
    "UpdateContactNoteOperator",
    "UpdateContactOperator",
    "UpdateContactTaskOperator",
    "UpdateContactsBusinessOperator",
    "UpsertContactOperator",
    "installed_location_ids",
]

"""Operators that put contacts into campaigns and workflows, or take them out."""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts.operators.base import ContactOperator


class AddContactToCampaignOperator(ContactOperator):
    """
    Add a contact to a campaign.

    :param contact_id: the contact. Templated.
    :param campaign_id: the campaign. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "add_to_campaign"
    hook_params = ("contact_id", "campaign_id")

    def __init__(self, *, contact_id: str, campaign_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.campaign_id = campaign_id


class RemoveContactFromCampaignOperator(ContactOperator):
    """
    Remove a contact from a campaign.

    :param contact_id: the contact. Templated.
    :param campaign_id: the campaign. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "remove_from_campaign"
    hook_params = ("contact_id", "campaign_id")

    def __init__(self, *, contact_id: str, campaign_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.campaign_id = campaign_id


class RemoveContactFromAllCampaignsOperator(ContactOperator):
    """
    Remove a contact from every campaign it is in.

    :param contact_id: the contact. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "remove_from_all_campaigns"
    hook_params = ("contact_id",)

    def __init__(self, *, contact_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id


class AddContactToWorkflowOperator(ContactOperator):
    """
    Add a contact to a workflow.

    :param contact_id: the contact. Templated.
    :param workflow_id: the workflow. Templated.
    :param event_start_time: when the workflow's event starts for this contact, ISO-8601 with an offset
        (``2026-07-08T09:00:00+02:00``); None starts it now. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "add_to_workflow"
    hook_params = ("contact_id", "workflow_id", "event_start_time")

    def __init__(
        self, *, contact_id: str, workflow_id: str, event_start_time: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.workflow_id = workflow_id
        self.event_start_time = event_start_time


class RemoveContactFromWorkflowOperator(ContactOperator):
    """
    Remove a contact from a workflow.

    :param contact_id: the contact. Templated.
    :param workflow_id: the workflow. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "remove_from_workflow"
    hook_params = ("contact_id", "workflow_id")

    def __init__(self, *, contact_id: str, workflow_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.workflow_id = workflow_id

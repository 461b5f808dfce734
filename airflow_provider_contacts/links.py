"""
The "HighLevel contact" extra link: a button on a task instance that opens the contact it acted on or found
in the HighLevel app.

The app's address of a contact is ``https://app.gohighlevel.com/v2/location/<location id>/contacts/detail/
<contact id>`` (docs/internals.md, "Extra links"). An agency on a white-label domain sees the same page under
its own host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

APP_URL = "https://app.gohighlevel.com"
#: The operator attribute the link reads: ``(location id, contact id)``, set by the task when it runs.
LINKED_CONTACT = "linked_contact"


def contact_url(location_id: str, contact_id: str) -> str:
    """
    Return the contact's page in the HighLevel app.

    :param location_id: the location (sub-account) of the contact.
    :param contact_id: the contact.
    """
    return f"{APP_URL}/v2/location/{quote(location_id, safe='')}/contacts/detail/{quote(contact_id, safe='')}"


def link_contact(operator: Any, location_id: str | None, contact_id: Any) -> None:
    """
    Remember the contact a task acts on, for its "HighLevel contact" link (nothing when the id is unknown).

    :param operator: the running operator or sensor.
    :param location_id: the contact's location.
    :param contact_id: the contact's id, or None.
    """
    if location_id and isinstance(contact_id, str) and contact_id:
        setattr(operator, LINKED_CONTACT, (location_id, contact_id))


class HighLevelContactLink(BaseOperatorLink):
    """The contact a task acted on or found, in the HighLevel app; empty until the task knows it."""

    name = "HighLevel contact"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        # Airflow 3 calls this in the worker when the task ends and keeps the answer in XCom for the UI.
        linked = getattr(operator, LINKED_CONTACT, None)
        return contact_url(*linked) if linked else ""

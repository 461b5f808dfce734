"""Agencies: the locations where an agency connection's app is installed, for dynamic task mapping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_contacts.hooks.contacts import ContactsHook

if TYPE_CHECKING:
    from airflow.sdk import Context


def installed_location_ids(
    contacts_conn_id: str = ContactsHook.default_conn_name, query: str | None = None
) -> list[str]:
    """
    The ids of the locations where an agency connection's app is installed, for ``.expand(location_id=...)``.

    TaskFlow-friendly: call it inside a ``@task``, or use :class:`InstalledLocationsOperator`.

    :param contacts_conn_id: the agency connection (``auth_type`` ``agency``).
    :param query: only locations whose name contains this text.
    """
    hook = ContactsHook(contacts_conn_id=contacts_conn_id)
    return [str(row["_id"]) for row in hook.installed_locations(query=query)]


class InstalledLocationsOperator(BaseOperator):
    """
    Return the ids of the locations where an agency connection's app is installed (to XCom), so that the
    tasks after it can be mapped over them: ``SyncContactsOperator.partial(...).expand(location_id=ids.output)``.

    :param contacts_conn_id: the agency connection (``auth_type`` ``agency``).
    :param query: only locations whose name contains this text (templated).
    """

    template_fields: Sequence[str] = ("contacts_conn_id", "query")
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        contacts_conn_id: str = ContactsHook.default_conn_name,
        query: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contacts_conn_id = contacts_conn_id
        self.query = query

    def execute(self, context: Context) -> list[str]:
        ids = installed_location_ids(self.contacts_conn_id, self.query)
        self.log.info("The app is installed on %d locations", len(ids))
        return ids

"""Operators that write contacts: create, update, upsert, delete, tags, followers and businesses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_contacts.operators.base import BaseContactsOperator, ContactOperator


class CreateContactOperator(ContactOperator):
    """
    Create a contact (``POST /contacts/``) and return it.

    A create is not idempotent: a retried task can create a second contact. Prefer
    :class:`UpsertContactOperator` when the task may be retried.

    :param fields: the contact's fields in the API's names (``firstName``, ``email``, ``phone``, ``tags``,
        ``customFields`` ...); the connection's location id is added. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "create_contact"
    hook_params = ("fields",)

    def __init__(self, *, fields: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fields = fields

    def returned_contact_id(self, result: Any) -> str | None:
        """The created contact's id. :param result: the contact."""
        return result.get("id") if isinstance(result, dict) else None


class UpdateContactOperator(ContactOperator):
    """
    Update a contact (``PUT /contacts/{contact_id}``) and return it.

    Fields left out are kept; ``tags`` given here replace the contact's whole tag list (use
    :class:`AddContactTagsOperator` to add some).

    :param contact_id: the contact to update. Templated.
    :param fields: the fields to change, in the API's names. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "update_contact"
    hook_params = ("contact_id", "fields")

    def __init__(self, *, contact_id: str, fields: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.fields = fields


class UpsertContactOperator(ContactOperator):
    """
    Create a contact, or update the one that matches by the location's duplicate rules (email, then phone).

    Idempotent: a retried task updates the contact it created. Returns ``{"contact": {...}, "new": bool}``.

    :param fields: the contact's fields in the API's names; ``email`` or ``phone`` is needed to match.
        Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "upsert_contact"
    hook_params = ("fields",)

    def __init__(self, *, fields: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fields = fields

    def returned_contact_id(self, result: Any) -> str | None:
        """The created or updated contact's id. :param result: ``{"contact", "new"}``."""
        contact = result.get("contact") if isinstance(result, dict) else None
        return contact.get("id") if isinstance(contact, dict) else None


class DeleteContactOperator(BaseContactsOperator):
    """
    Delete a contact (``DELETE /contacts/{contact_id}``).

    :param contact_id: the contact to delete. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "delete_contact"
    hook_params = ("contact_id",)

    def __init__(self, *, contact_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id


class AddContactTagsOperator(ContactOperator):
    """
    Add tags to a contact, keeping the ones it has; returns the API's answer (the contact's tags).

    :param contact_id: the contact. Templated.
    :param tags: the tags to add. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "add_tags"
    hook_params = ("contact_id", "tags")

    def __init__(self, *, contact_id: str, tags: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.tags = tags


class RemoveContactTagsOperator(ContactOperator):
    """
    Remove tags from a contact; returns the API's answer (the contact's tags).

    :param contact_id: the contact. Templated.
    :param tags: the tags to remove. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "remove_tags"
    hook_params = ("contact_id", "tags")

    def __init__(self, *, contact_id: str, tags: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.tags = tags


class BulkUpdateContactTagsOperator(BaseContactsOperator):
    """
    Add or remove tags on many contacts in one request (``POST /contacts/bulk/tags/update/{action}``).

    The API answers per contact inside one response; the returned object lists each contact's outcome.

    :param contact_ids: the contacts. Templated.
    :param tags: the tags to add or remove. Templated.
    :param action: ``"add"`` or ``"remove"``. Templated.
    :param remove_all: with ``action="remove"``, remove every tag of the contacts. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "bulk_update_tags"
    hook_params = ("contact_ids", "tags", "action", "remove_all")

    def __init__(
        self,
        *,
        contact_ids: Sequence[str],
        tags: Sequence[str],
        action: str = "add",
        remove_all: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contact_ids = contact_ids
        self.tags = tags
        self.action = action
        self.remove_all = remove_all


class AddContactFollowersOperator(ContactOperator):
    """
    Add followers (user ids) to a contact.

    :param contact_id: the contact. Templated.
    :param followers: the user ids to add. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "add_followers"
    hook_params = ("contact_id", "followers")

    def __init__(self, *, contact_id: str, followers: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.followers = followers


class RemoveContactFollowersOperator(ContactOperator):
    """
    Remove followers (user ids) from a contact.

    :param contact_id: the contact. Templated.
    :param followers: the user ids to remove. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "remove_followers"
    hook_params = ("contact_id", "followers")

    def __init__(self, *, contact_id: str, followers: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.followers = followers


class UpdateContactsBusinessOperator(BaseContactsOperator):
    """
    Attach contacts to a business, or detach them (``POST /contacts/bulk/business``).

    :param contact_ids: the contacts. Templated.
    :param business_id: the business, or ``None`` to remove the contacts from their business. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "bulk_update_business"
    hook_params = ("contact_ids", "business_id")

    def __init__(self, *, contact_ids: Sequence[str], business_id: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_ids = contact_ids
        self.business_id = business_id

"""Operators for a contact's notes: create, update, delete."""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts.operators.base import ContactOperator


class CreateContactNoteOperator(ContactOperator):
    """
    Add a note to a contact and return it.

    :param contact_id: the contact. Templated.
    :param body: the note's text. Templated.
    :param fields: other note fields in the API's names (``title``, ``userId``, ``color``, ``pinned``).
        Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "create_note"
    hook_params = ("contact_id", "body", "**fields")

    def __init__(
        self, *, contact_id: str, body: str, fields: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.body = body
        self.fields = fields


class UpdateContactNoteOperator(ContactOperator):
    """
    Update a contact's note and return it.

    :param contact_id: the contact. Templated.
    :param note_id: the note. Templated.
    :param body: the new text (None keeps it). Templated.
    :param fields: other note fields to change (``title``, ``userId``, ``color``, ``pinned``). Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "update_note"
    hook_params = ("contact_id", "note_id", "body", "**fields")

    def __init__(
        self,
        *,
        contact_id: str,
        note_id: str,
        body: str | None = None,
        fields: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.note_id = note_id
        self.body = body
        self.fields = fields


class DeleteContactNoteOperator(ContactOperator):
    """
    Delete a contact's note.

    :param contact_id: the contact. Templated.
    :param note_id: the note. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "delete_note"
    hook_params = ("contact_id", "note_id")

    def __init__(self, *, contact_id: str, note_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.note_id = note_id

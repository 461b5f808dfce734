"""Operators for a contact's tasks: create, update, complete, delete."""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts.operators.base import ContactOperator


class CreateContactTaskOperator(ContactOperator):
    """
    Create a task on a contact and return it.

    :param contact_id: the contact. Templated.
    :param title: the task's title. Templated.
    :param due_date: when it is due: an ISO-8601 date-time (``2026-07-08T09:00:00.000Z``). Templated.
    :param body: the task's description. Templated.
    :param assigned_to: the user id it is assigned to. Templated.
    :param completed: create it as already completed. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "create_task"
    hook_params = ("contact_id", "title", "due_date", "body", "assigned_to", "completed")

    def __init__(
        self,
        *,
        contact_id: str,
        title: str,
        due_date: str,
        body: str | None = None,
        assigned_to: str | None = None,
        completed: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.title = title
        self.due_date = due_date
        self.body = body
        self.assigned_to = assigned_to
        self.completed = completed


class UpdateContactTaskOperator(ContactOperator):
    """
    Update a contact's task and return it; parameters left at ``None`` are not changed.

    :param contact_id: the contact. Templated.
    :param contact_task_id: the task (the hook's ``task_id``; ``task_id`` is Airflow's). Templated.
    :param title: the new title. Templated.
    :param due_date: the new due date-time, ISO-8601. Templated.
    :param body: the new description. Templated.
    :param assigned_to: the user id to assign it to. Templated.
    :param completed: mark it completed (True) or open (False). Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "update_task"
    hook_params = ("contact_id", "contact_task_id", "title", "due_date", "body", "assigned_to", "completed")

    def __init__(
        self,
        *,
        contact_id: str,
        contact_task_id: str,
        title: str | None = None,
        due_date: str | None = None,
        body: str | None = None,
        assigned_to: str | None = None,
        completed: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.contact_task_id = contact_task_id
        self.title = title
        self.due_date = due_date
        self.body = body
        self.assigned_to = assigned_to
        self.completed = completed


class CompleteContactTaskOperator(ContactOperator):
    """
    Mark a contact's task completed (or open again) and return it.

    :param contact_id: the contact. Templated.
    :param contact_task_id: the task (the hook's ``task_id``). Templated.
    :param completed: True to complete it, False to re-open it. Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "complete_task"
    hook_params = ("contact_id", "contact_task_id", "completed")

    def __init__(
        self, *, contact_id: str, contact_task_id: str, completed: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.contact_task_id = contact_task_id
        self.completed = completed


class DeleteContactTaskOperator(ContactOperator):
    """
    Delete a contact's task.

    :param contact_id: the contact. Templated.
    :param contact_task_id: the task (the hook's ``task_id``). Templated.
    :param contacts_conn_id: the Contacts connection.
    """

    hook_method = "delete_task"
    hook_params = ("contact_id", "contact_task_id")

    def __init__(self, *, contact_id: str, contact_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.contact_task_id = contact_task_id

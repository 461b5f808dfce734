"""
Sensors for the Contacts API's polling triggers.

Each sensor evaluates one :mod:`~airflow_provider_contacts.triggers.checks` condition: in ``poke`` and
``reschedule`` modes through :meth:`poke`, and with ``deferrable=True`` through the matching trigger of
:mod:`~airflow_provider_contacts.triggers.contacts`, which evaluates the very same check in the
triggerer. Each returns what it found through ``PokeReturnValue(is_done=True, xcom_value=...)``: ids plus
the few fields a downstream task needs (``include_raw=True`` returns the API's whole objects).

``timeout``, ``soft_fail``, ``exponential_backoff`` and ``max_wait`` work in every mode: the trigger
backs off the same way and ends itself at the timeout (``soft_fail`` then skips, as in poke mode).
"""

from __future__ import annotations

import abc
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

from airflow_provider_contacts.coercion import to_float
from airflow_provider_contacts.exceptions import ContactsConfigError, ContactsError
from airflow_provider_contacts.links import HighLevelContactLink, link_contact
from airflow_provider_contacts.triggers.checks import CheckResult, ContactsCheck
from airflow_provider_contacts.triggers.contacts import (
    DEFAULT_CONN_ID,
    BusinessContactsTrigger,
    ContactAppointmentTrigger,
    ContactChangedPollTrigger,
    ContactNoteTrigger,
    ContactSearchTrigger,
    ContactsPollTrigger,
    ContactTaskTrigger,
    DuplicateContactTrigger,
    make_hook,
)
from airflow_provider_contacts.windows import run_window

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_contacts.hooks.contacts import ContactsHook


class ContactsBaseSensor(BaseSensorOperator, abc.ABC):
    """
    Wait for a condition on the Contacts API, in poke, reschedule or deferrable mode.

    :param contacts_conn_id: the connection.
    :param location_id: the location (sub-account) to watch, templated; default: the connection's (any
        installed location with an agency connection).
    :param deferrable: defer to the triggerer between evaluations (default: ``[operators]
        default_deferrable``). The first evaluation runs in the task, so a condition that already holds
        costs no deferral.
    :param include_raw: return the API's whole objects instead of summaries.
    """

    trigger_class: ClassVar[type[ContactsPollTrigger]]
    ui_color = "#dff0d8"

    def __init__(
        self,
        *,
        contacts_conn_id: str = DEFAULT_CONN_ID,
        location_id: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        include_raw: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contacts_conn_id = contacts_conn_id
        self.location_id = location_id
        self.deferrable = deferrable
        self.include_raw = include_raw

    @cached_property
    def hook(self) -> ContactsHook:
        """The hook, built on first use (never at DAG parse time)."""
        return make_hook(self.contacts_conn_id, self.location_id or None)

    @abc.abstractmethod
    def check_kwargs(self, context: Context) -> dict[str, Any]:
        """
        The check's arguments, from the rendered template fields and the run's context.

        :param context: the task's context.
        """

    def build_check(self, context: Context) -> ContactsCheck:
        """
        Build this sensor's check for this run.

        :param context: the task's context.
        """
        return self.trigger_class.check_class(include_raw=self.include_raw, **self.check_kwargs(context))

    def outcome(self, result: CheckResult) -> PokeReturnValue:
        """
        Turn a check's verdict into the sensor's: done with the result, not yet, or skip/fail.

        :param result: the verdict (from ``poke`` or from a trigger's event).
        """
        self.log.info("%s", result.message or result.status)
        if result.status == "skip":
            raise AirflowSkipException(result.message)
        if result.status == "fail":
            raise AirflowFailException(result.message)
        if result.status == "success":
            return PokeReturnValue(is_done=True, xcom_value=result.xcom)
        return PokeReturnValue(is_done=False)

    def poke(self, context: Context) -> PokeReturnValue:
        """
        Evaluate the check once.

        :param context: the task's context.
        """
        return self.outcome(self.build_check(context).evaluate(self.hook))

    def execute(self, context: Context) -> Any:
        """
        Poke (``mode`` poke or reschedule), or evaluate once and defer to the trigger.

        :param context: the task's context.
        """
        if not self.deferrable:
            return super().execute(context)
        check = self.build_check(context)
        try:
            first = self.outcome(check.evaluate(self.hook))
        except AirflowFailException as err:
            if self.soft_fail:
                raise AirflowSkipException(f"Skipping due to soft_fail: {err}") from err
            raise
        if first.is_done:
            return first.xcom_value
        self.defer(
            trigger=self.trigger_class(
                contacts_conn_id=self.contacts_conn_id,
                location_id=self.location_id or None,
                poll_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
                exponential_backoff=self.exponential_backoff,
                max_wait=self.max_wait.total_seconds() if self.max_wait else None,
                **self.trigger_kwargs(check),
            ),
            method_name="execute_complete",
            # The trigger ends itself at the timeout; this only catches one stuck in a request.
            timeout=timedelta(seconds=self.timeout + max(self.poke_interval, 60)),
        )

    def trigger_kwargs(self, check: ContactsCheck) -> dict[str, Any]:
        """
        The trigger's check arguments.

        :param check: the check built for this run.
        """
        return check.serialize()

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """
        Resume from the trigger: return the result, or raise for a timeout, an error, skip or fail.

        :param context: the task's context.
        :param event: the trigger's event payload.
        """
        event = event or {"status": "error", "message": "the trigger sent no event"}
        status, message = event.get("status"), event.get("message") or ""
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        if status not in ("success", "skip", "fail"):
            raise ContactsError(f"{self.task_id}: {message}")
        return self.outcome(CheckResult(status, event.get("xcom"), message)).xcom_value


class ContactChangedSensor(ContactsBaseSensor):
    """
    Wait for contacts created and/or updated in a window; return their ids and summaries.

    The window is half-open, [since, until), on ``dateAdded`` (``created``), ``dateUpdated``
    (``updated``) or either (``any``), so that a contact changed exactly at a boundary belongs to the later
    of two adjacent windows only. By default it is the run's own window (see :func:`run_window`): the data
    interval, chained from the previous successful run for zero-length intervals, or open-ended from the
    run's date for a manual run.

    The search index lags writes by a few seconds. A bounded window is queried only once it has settled,
    ``now >= until + lag_margin`` (pokes before that cost no request), and then reports every change of the
    window at once; so a scheduled run, which starts after its interval ends, waits at most
    ``lag_margin``. If fewer than ``min_count`` contacts changed, the window can never fill any more and
    ``on_empty`` decides: ``skip`` (default), ``fail`` or ``succeed`` (with the empty result). An open
    window (no ``until`` and no interval) reports what changed in [since, now - lag_margin) as soon as
    that holds ``min_count`` contacts; the reported ``window.end`` is a settled bound to continue from.

    One search per evaluation, filtered by a ``range`` on the window and sorted by its field: one request
    per 500 changes, never a scan of the location.

    Result: ``{"event", "window": {"start", "end"}, "count", "contact_ids", "contacts": [{"id", "name",
    "email", "phone", "tags", "dateAdded", "dateUpdated", "change": "created" | "updated", ...}]}``.

    :param event: ``created``, ``updated`` (``dateUpdated``, which creation sets too) or ``any``.
    :param since: start of the window, inclusive (templated; datetime, ISO string or epoch ms).
    :param until: end of the window, exclusive (templated).
    :param filters: more search filters, AND-ed (templated), e.g.
        ``[{"field": "source", "operator": "eq", "value": "web"}]``.
    :param tags: only contacts carrying all of these tags (templated).
    :param lag_margin: how far the search index may lag behind writes.
    :param min_count: how many changed contacts to wait for.
    :param on_empty: ``skip``, ``fail`` or ``succeed`` when a closed window has fewer than ``min_count``.
    """

    template_fields: Sequence[str] = ("since", "until", "filters", "tags", "contacts_conn_id", "location_id")
    trigger_class = ContactChangedPollTrigger

    def __init__(
        self,
        *,
        event: str = "any",
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        filters: list[dict[str, Any]] | None = None,
        tags: list[str] | str | None = None,
        lag_margin: timedelta | float = timedelta(seconds=10),
        min_count: int = 1,
        on_empty: str = "skip",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.event = event
        self.since = since
        self.until = until
        self.filters = filters
        self.tags = tags
        self.lag_margin = (
            lag_margin.total_seconds()
            if isinstance(lag_margin, timedelta)
            else to_float(lag_margin, "lag_margin")
        )
        self.min_count = min_count
        self.on_empty = on_empty
        # Fail at parse time on a bad event / on_empty, not at the first poke.
        ContactChangedPollTrigger.check_class(event=event, on_empty=on_empty, min_count=min_count)

    def check_kwargs(self, context: Context) -> dict[str, Any]:
        """
        The window (explicit, else the run's) and the filters.

        :param context: the task's context.
        """
        try:
            since, until = run_window(context, since=self.since, until=self.until, open_end=True)
        except ContactsConfigError as error:  # e.g. no run date at all: never scan the location's history
            raise ContactsConfigError(f"{self.task_id}: {error}") from None
        return {
            "event": self.event,
            "since": since,
            "until": until,
            "filters": self.filters,
            "tags": self.tags,
            "lag_margin": self.lag_margin,
            "min_count": self.min_count,
            "on_empty": self.on_empty,
        }


class ContactSearchSensor(ContactsBaseSensor):
    """
    Wait until a search (filters and/or full-text query) matches at least ``min_count`` contacts.

    Result: ``{"count", "contact_ids", "contacts", "truncated"}`` (at most ``max_results`` contacts; the
    search stops paging there, one request per 500).

    :param filters: the API's search filters (templated).
    :param query: full-text query (templated).
    :param sort: the search's sort.
    :param min_count: how many matches to wait for.
    :param max_results: how many contacts to return at most.
    """

    template_fields: Sequence[str] = ("filters", "query", "contacts_conn_id", "location_id")
    trigger_class = ContactSearchTrigger

    def __init__(
        self,
        *,
        filters: list[dict[str, Any]] | None = None,
        query: str | None = None,
        sort: list[dict[str, Any]] | None = None,
        min_count: int = 1,
        max_results: int = 500,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = filters
        self.query = query
        self.sort = sort
        self.min_count = min_count
        self.max_results = max_results

    def check_kwargs(self, context: Context) -> dict[str, Any]:
        """The search. :param context: the task's context."""
        return {
            "filters": self.filters,
            "query": self.query,
            "sort": self.sort,
            "min_count": self.min_count,
            "max_results": self.max_results,
        }


class DuplicateContactSensor(ContactsBaseSensor):
    """
    Wait until a contact with this email and/or phone exists (by the location's duplicate rules).

    Result: ``{"contact_id", "contact": {"id", "name", "email", "phone", ...}}``.

    :param email: the email (templated).
    :param phone: the phone, E.164 (templated).
    """

    template_fields: Sequence[str] = ("email", "phone", "contacts_conn_id", "location_id")
    trigger_class = DuplicateContactTrigger
    operator_extra_links = (HighLevelContactLink(),)

    def __init__(self, *, email: str | None = None, phone: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not (email or phone):
            raise ValueError("DuplicateContactSensor needs an email or a phone")
        self.email = email
        self.phone = phone

    def check_kwargs(self, context: Context) -> dict[str, Any]:
        """The email and phone. :param context: the task's context."""
        return {"email": self.email, "phone": self.phone}

    def outcome(self, result: CheckResult) -> PokeReturnValue:
        """The verdict; the contact found is the task's "HighLevel contact" link. :param result: the check's."""
        if result.status == "success" and isinstance(result.xcom, dict):
            link_contact(self, self.hook.location_id, result.xcom.get("contact_id"))
        return super().outcome(result)


class ContactTaskSensor(ContactsBaseSensor):
    """
    Wait for new, completed or due tasks of one or many contacts (one request per contact and poke).

    Result: ``{"count", "task_ids", "tasks": [{"id", "contactId", "title", "dueDate", "completed", ...}]}``.

    :param contact_ids: the contacts: a list, or a comma-separated / JSON list string (templated).
    :param condition: ``new`` (created at or after ``since``; default the run's window start), ``completed``,
        or ``due`` (open and due before ``due_before``, default now).
    :param since: for ``new`` (templated).
    :param due_before: for ``due`` (templated).
    :param task_ids: only these tasks (templated), e.g. to wait for one task's completion.
    :param exclude_task_ids: tasks that never count (templated), e.g. those known already.
    :param min_count: how many tasks to wait for.
    """

    template_fields: Sequence[str] = (
        "contact_ids",
        "since",
        "due_before",
        "task_ids",
        "exclude_task_ids",
        "contacts_conn_id",
        "location_id",
    )
    trigger_class = ContactTaskTrigger

    def __init__(
        self,
        *,
        contact_ids: str | list[str],
        condition: str = "new",
        since: datetime | str | None = None,
        due_before: datetime | str | None = None,
        task_ids: str | list[str] | None = None,
        exclude_task_ids: str | list[str] | None = None,
        min_count: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contact_ids = contact_ids
        self.condition = condition
        self.since = since
        self.due_before = due_before
        self.task_ids = task_ids
        self.exclude_task_ids = exclude_task_ids
        self.min_count = min_count

    def check_kwargs(self, context: Context) -> dict[str, Any]:
        """The contacts and the condition. :param context: the task's context."""
        since = self.since
        if since is None and self.condition == "new":
            since = run_window(context, open_end=True).start
        return {
            "contact_ids": self.contact_ids,
            "condition": self.condition,
            "since": since,
            "due_before": self.due_before,
            "task_ids": self.task_ids,
            "exclude_ids": self.exclude_task_ids,
            "min_count": self.min_count,
        }


class ContactNoteSensor(ContactsBaseSensor):
    """
    Wait for notes added to one or many contacts since a time (one request per contact and poke).

    Result: ``{"count", "note_ids", "notes": [{"id", "contactId", "dateAdded", "title", "body", ...}]}``
    (bodies cut at 500 characters unless ``include_raw``).

    :param contact_ids: the contacts: a list, or a comma-separated / JSON list string (templated).
    :param since: the earliest ``dateAdded`` (templated); default the run's window start.
    :param exclude_note_ids: notes that never count (templated).
    :param min_count: how many notes to wait for.
    """

    template_fields: Sequence[str] = (
        "contact_ids",
        "since",
        "exclude_note_ids",
        "contacts_conn_id",
        "location_id",
    )
    trigger_class = ContactNoteTrigger

    def __init__(
        self,
        *,
        contact_ids: str | list[str],
        since: datetime | str | None = None,
        exclude_note_ids: str | list[str] | None = None,
        min_count: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contact_ids = contact_ids
        self.since = since
        self.exclude_note_ids = exclude_note_ids
        self.min_count = min_count

    def check_kwargs(self, context: Context) -> dict[str, Any]:
        """The contacts and the time. :param context: the task's context."""
        return {
            "contact_ids": self.contact_ids,
            "since": self.since if self.since is not None else run_window(context, open_end=True).start,
            "exclude_ids": self.exclude_note_ids,
            "min_count": self.min_count,
        }


class ContactAppointmentSensor(ContactsBaseSensor):
    """
    Wait for appointments of one or many contacts, optionally starting in [start, end) and in a status.

    Result: ``{"count", "appointment_ids", "appointments": [{"id", "contactId", "startTime", "endTime",
    "status", "appointmentStatus", "title", ...}]}``.

    :param contact_ids: the contacts: a list, or a comma-separated / JSON list string (templated).
    :param start: earliest start time, inclusive (templated).
    :param end: latest start time, exclusive (templated).
    :param statuses: accepted statuses, e.g. ``["confirmed"]`` (templated).
    :param min_count: how many appointments to wait for.
    """

    template_fields: Sequence[str] = (
        "contact_ids",
        "start",
        "end",
        "statuses",
        "contacts_conn_id",
        "location_id",
    )
    trigger_class = ContactAppointmentTrigger

    def __init__(
        self,
        *,
        contact_ids: str | list[str],
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        statuses: str | list[str] | None = None,
        min_count: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contact_ids = contact_ids
        self.start = start
        self.end = end
        self.statuses = statuses
        self.min_count = min_count

    def check_kwargs(self, context: Context) -> dict[str, Any]:
        """The contacts, window and statuses. :param context: the task's context."""
        return {
            "contact_ids": self.contact_ids,
            "start": self.start,
            "end": self.end,
            "statuses": self.statuses,
            "min_count": self.min_count,
        }


class BusinessContactsSensor(ContactsBaseSensor):
    """
    Wait until a business has at least ``min_count`` contacts, optionally only ones added since a time.

    Result: ``{"count", "contact_ids", "contacts", "truncated"}``.

    :param business_id: the business (templated).
    :param query: full-text query (templated).
    :param since: only contacts whose ``dateAdded`` is at or after this (templated).
    :param exclude_contact_ids: contacts that never count (templated), e.g. the members known already.
    :param min_count: how many contacts to wait for.
    :param max_results: how many contacts to return at most.
    """

    template_fields: Sequence[str] = (
        "business_id",
        "query",
        "since",
        "exclude_contact_ids",
        "contacts_conn_id",
        "location_id",
    )
    trigger_class = BusinessContactsTrigger

    def __init__(
        self,
        *,
        business_id: str,
        query: str | None = None,
        since: datetime | str | None = None,
        exclude_contact_ids: str | list[str] | None = None,
        min_count: int = 1,
        max_results: int = 500,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.business_id = business_id
        self.query = query
        self.since = since
        self.exclude_contact_ids = exclude_contact_ids
        self.min_count = min_count
        self.max_results = max_results

    def check_kwargs(self, context: Context) -> dict[str, Any]:
        """The business and what counts. :param context: the task's context."""
        return {
            "business_id": self.business_id,
            "query": self.query,
            "since": self.since,
            "exclude_ids": self.exclude_contact_ids,
            "min_count": self.min_count,
            "max_results": self.max_results,
        }

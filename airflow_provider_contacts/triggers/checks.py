"""
The conditions the Contacts sensors wait for, one class per condition.

A sensor's ``poke`` (poke and reschedule modes) and its trigger's ``run`` (deferrable mode, in the
triggerer) both call the same :meth:`ContactsCheck.evaluate`, so the query logic lives here once. A check
is a small dataclass of JSON-serialisable arguments: the sensor builds it from its (rendered) arguments
and the run's context, and hands :meth:`ContactsCheck.serialize` to the trigger, which rebuilds it.

``evaluate`` is blocking (it calls the hook); triggers run it in a thread.

Time values are kept as ISO-8601 UTC strings with milliseconds (the API's own format), floored to the
millisecond, so that two runs sharing a boundary compare it identically.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow_provider_contacts.api_versions import SEARCH_PAGE_LIMIT
from airflow_provider_contacts.coercion import to_datetime, to_float, to_int, to_list
from airflow_provider_contacts.exceptions import ContactsConfigError

if TYPE_CHECKING:
    from airflow_provider_contacts.hooks.contacts import ContactsHook

#: A check's verdict. ``success``: the condition holds, ``xcom`` is what was found. ``waiting``: not yet.
#: ``skip`` / ``fail``: the condition can no longer hold (a closed window with too few changes), and the
#: sensor skips or fails accordingly.
Status = Literal["success", "waiting", "skip", "fail"]

#: Page size of every search: the API's maximum, so a poke costs one request per 500 matches.

CONTACT_FIELDS = ("id", "name", "firstName", "lastName", "email", "phone", "tags", "businessId")
TASK_FIELDS = ("id", "contactId", "title", "dueDate", "completed", "assignedTo", "dateAdded")
NOTE_FIELDS = ("id", "contactId", "title", "userId", "dateAdded", "body")
APPOINTMENT_FIELDS = (
    "id",
    "contactId",
    "calendarId",
    "title",
    "status",
    "appointmentStatus",
    "startTime",
    "endTime",
    "assignedUserId",
)
#: Notes can be long: a summary keeps the start of the body only.
NOTE_BODY_CHARS = 500
#: Keys a task may carry its creation time under (the v2 schema documents none; webhooks use dateAdded).
TASK_CREATED_KEYS = ("dateAdded", "createdAt", "dateCreated")


# --------------------------------------------------------------------------------------------- time


def to_api_time(value: datetime | str | float | None) -> str | None:
    """
    Format a point in time as the API does: ISO-8601 UTC with milliseconds, floored to the millisecond.

    :param value: anything :func:`to_datetime` reads.
    :return: e.g. ``"2026-01-01T00:00:00.000Z"``, or None.
    """
    dt = to_datetime(value)
    if dt is None:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def utcnow() -> datetime:
    """Return the current time in UTC (one place to patch in tests)."""
    return datetime.now(timezone.utc)


def _in_range(value: Any, start: datetime | None, end: datetime | None) -> bool:
    """Whether ``value``, at the API's millisecond precision, lies in [start, end); a missing value never does."""
    dt = to_datetime(value)
    if dt is None:
        return False
    dt = dt.replace(microsecond=dt.microsecond // 1000 * 1000)
    return (start is None or dt >= start) and (end is None or dt < end)


def summarize(item: Mapping[str, Any], fields: Iterable[str], *, include_raw: bool = False) -> dict[str, Any]:
    """
    Keep what a downstream task needs of an API object: the listed fields that have a value.

    :param item: a contact, task, note or appointment as the API returns it.
    :param fields: the fields to keep.
    :param include_raw: keep the whole object instead (without the search cursor).
    :return: a small JSON-serialisable dict.
    """
    if include_raw:
        return {k: v for k, v in item.items() if k != "searchAfter"}
    out = {k: item[k] for k in fields if item.get(k) not in (None, "", [])}
    if "name" in fields and "name" not in out:
        name = " ".join(p for p in (item.get("firstName"), item.get("lastName")) if p)
        if name:
            out["name"] = name
    if isinstance(out.get("body"), str) and len(out["body"]) > NOTE_BODY_CHARS:
        out["body"] = out["body"][:NOTE_BODY_CHARS] + "..."
    return out


# --------------------------------------------------------------------------------------------- checks


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """
    What one evaluation of a check found.

    :param status: see :data:`Status`.
    :param xcom: the sensor's return value when done (JSON-serialisable).
    :param message: a line for the task log.
    """

    status: Status
    xcom: Any = None
    message: str = ""


@dataclasses.dataclass
class ContactsCheck(abc.ABC):
    """
    A condition on the Contacts API, evaluated alike by a sensor's poke and by its trigger.

    :param include_raw: return the API's whole objects instead of summaries.
    """

    #: Return the API's whole objects instead of summaries.
    include_raw: bool = False

    #: A short name of the condition, for logs.
    kind: ClassVar[str] = "check"

    def serialize(self) -> dict[str, Any]:
        """Return the keyword arguments that rebuild this check (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @abc.abstractmethod
    def evaluate(self, hook: ContactsHook, now: datetime | None = None) -> CheckResult:
        """
        Query the API once and say whether the condition holds.

        :param hook: the hook to query through.
        :param now: the current time (UTC); the clock when None.
        """

    @staticmethod
    def _min_count(value: int) -> int:
        return to_int(value, "min_count", minimum=1)


def _tag_filters(tags: Iterable[str]) -> list[dict[str, Any]]:
    return [{"field": "tags", "operator": "eq", "value": tag} for tag in tags]


@dataclasses.dataclass
class ContactChangedCheck(ContactsCheck):
    """
    Contacts created and/or updated in the half-open window [since, until).

    One search, filtered by a ``range`` on ``dateAdded``/``dateUpdated`` and sorted by it, so that an
    evaluation costs one request per 500 changes, never a scan of the location.

    Window and lag: the search index lags writes by a few seconds, so a change made just before ``until``
    may not be visible yet at ``until``. A bounded window is therefore only queried once it has settled,
    at ``now >= until + lag_margin``; before that the check waits without any request. The answer is then
    complete: every change in [since, until) (given lag <= lag_margin), and a change at exactly ``until``
    belongs to the next window (``lt``), so consecutive runs with adjacent windows report each change
    exactly once. An open window (``until`` None) reports what changed in [since, now - lag_margin), so
    the reported ``window.end`` is itself a settled bound a next run can start from.

    A settled bounded window holding fewer than ``min_count`` changes can never succeed: ``on_empty``
    says whether the sensor then skips (default), fails, or succeeds with what it found.

    :param event: ``created`` (``dateAdded`` in the window), ``updated`` (``dateUpdated`` in the window;
        creation also sets it), or ``any`` (either).
    :param since: start of the window, inclusive; None for no lower bound.
    :param until: end of the window, exclusive; None for no upper bound.
    :param filters: further search filters (the API's shape), AND-ed with the window.
    :param tags: only contacts that carry every one of these tags.
    :param lag_margin: seconds the search index may lag behind writes.
    :param min_count: how many changed contacts make the condition true.
    :param on_empty: ``skip``, ``fail`` or ``succeed`` when a settled window has too few changes.
    :param include_raw: return whole contact objects instead of summaries.
    """

    event: str = "any"
    since: Any = None
    until: Any = None
    filters: list[dict[str, Any]] | None = None
    tags: list[str] | None = None
    lag_margin: float = 10.0
    min_count: int = 1
    on_empty: str = "skip"

    kind: ClassVar[str] = "changed"
    EVENTS: ClassVar[tuple[str, ...]] = ("created", "updated", "any")

    def __post_init__(self) -> None:
        if self.event not in self.EVENTS:
            raise ContactsConfigError(f"event must be one of {self.EVENTS}, not {self.event!r}")
        if self.on_empty not in ("skip", "fail", "succeed"):
            raise ContactsConfigError(f"on_empty must be skip, fail or succeed, not {self.on_empty!r}")
        self.since = to_api_time(self.since)
        self.until = to_api_time(self.until)
        if self.since and self.until and self.since > self.until:
            raise ContactsConfigError(f"since {self.since} is after until {self.until}")
        self.filters = list(self.filters or [])
        self.tags = to_list(self.tags, "tags")
        if isinstance(self.lag_margin, timedelta):
            self.lag_margin = self.lag_margin.total_seconds()
        self.lag_margin = to_float(self.lag_margin, "lag_margin", minimum=0)
        if self.lag_margin < 0:
            raise ContactsConfigError("lag_margin must not be negative")
        self.min_count = self._min_count(self.min_count)

    @property
    def time_field(self) -> str:
        """The field the window is on, and the search is sorted by."""
        return "dateAdded" if self.event == "created" else "dateUpdated"

    def change_time(self, contact: Mapping[str, Any]) -> str | None:
        """The time of a contact's latest change this check watches (API format), or None."""
        value = contact.get(self.time_field) or contact.get("dateAdded")
        return to_api_time(value) if value else None

    def search_args(self, start: str | None, end: str | None) -> dict[str, Any]:
        """
        The ``search_contacts`` arguments for the window [start, end).

        :param start: inclusive lower bound (API time) or None.
        :param end: exclusive upper bound (API time) or None.
        """
        bounds = {k: v for k, v in (("gte", start), ("lt", end)) if v}
        fields = ("dateAdded", "dateUpdated") if self.event == "any" else (self.time_field,)
        ranges: list[dict[str, Any]] = [
            {"field": f, "operator": "range", "value": dict(bounds)} for f in fields
        ]
        window: list[dict[str, Any]]
        if not bounds:
            window = []
        elif len(ranges) == 1:
            window = ranges
        else:
            window = [{"group": "OR", "filters": ranges}]
        return {
            "filters": [*(self.filters or []), *_tag_filters(self.tags or []), *window],
            "sort": [{"field": self.time_field, "direction": "asc"}],
            "page_limit": SEARCH_PAGE_LIMIT,
        }

    def in_window(self, contact: Mapping[str, Any], start: str | None, end: str | None) -> bool:
        """Whether a contact's watched time(s) fall in [start, end) (re-checked locally, to the ms)."""
        lo, hi = to_datetime(start), to_datetime(end)
        fields = ("dateAdded", "dateUpdated") if self.event == "any" else (self.time_field,)
        return any(_in_range(contact.get(f), lo, hi) for f in fields)

    def fetch(self, hook: ContactsHook, start: str | None, end: str | None) -> list[dict[str, Any]]:
        """
        Every contact changed in [start, end), in change-time order, each once.

        :param hook: the hook.
        :param start: inclusive lower bound (API time) or None.
        :param end: exclusive upper bound (API time) or None.
        """
        found: dict[str, dict[str, Any]] = {}
        for contact in hook.search_contacts(**self.search_args(start, end)):
            cid = contact.get("id")
            if cid and self.in_window(contact, start, end):
                found[cid] = contact
        return list(found.values())

    def describe(self, contact: Mapping[str, Any], start: str | None, end: str | None) -> dict[str, Any]:
        """A contact's summary, with ``dateAdded``/``dateUpdated`` and whether it was created in the window."""
        out = summarize(contact, (*CONTACT_FIELDS, "dateAdded", "dateUpdated"), include_raw=self.include_raw)
        out["change"] = (
            "created" if _in_range(contact.get("dateAdded"), *map(to_datetime, (start, end))) else "updated"
        )
        return out

    def settle_time(self) -> datetime | None:
        """When a bounded window has settled (``until + lag_margin``); None for an open window."""
        until = to_datetime(self.until)
        return None if until is None else until + timedelta(seconds=self.lag_margin)

    def evaluate(self, hook: ContactsHook, now: datetime | None = None) -> CheckResult:
        """
        Query the window once it has settled; see the class docstring.

        :param hook: the hook.
        :param now: the current time (UTC).
        """
        now = now or utcnow()
        settle = self.settle_time()
        if settle is not None and now < settle:
            return CheckResult(
                "waiting", message=f"window ends {self.until}; waiting until {to_api_time(settle)}"
            )
        end = self.until or to_api_time(now - timedelta(seconds=self.lag_margin))
        if self.since and end and end < self.since:
            return CheckResult("waiting", message=f"window starts {self.since}, not settled yet")
        contacts = self.fetch(hook, self.since, end)
        xcom = {
            "event": self.event,
            "window": {"start": self.since, "end": end},
            "count": len(contacts),
            "contact_ids": [c["id"] for c in contacts],
            "contacts": [self.describe(c, self.since, end) for c in contacts],
        }
        verb = "created or updated" if self.event == "any" else self.event
        message = f"{len(contacts)} contact(s) {verb} in [{self.since}, {end})"
        if len(contacts) >= self.min_count:
            return CheckResult("success", xcom, message)
        if settle is None:
            return CheckResult("waiting", xcom, message)
        status: Status = "success" if self.on_empty == "succeed" else self.on_empty  # type: ignore[assignment]
        return CheckResult(status, xcom, f"{message}: fewer than {self.min_count}; the window is closed")


@dataclasses.dataclass
class ContactSearchCheck(ContactsCheck):
    """
    Any search matches at least ``min_count`` contacts.

    Costs one request per 500 contacts collected; collection stops at ``max(min_count, max_results)``.

    :param filters: search filters (the API's shape).
    :param query: the full-text query.
    :param sort: the search sort.
    :param min_count: how many matches make the condition true.
    :param max_results: how many contacts to return at most (the count stops there too).
    :param include_raw: return whole contact objects instead of summaries.
    """

    filters: list[dict[str, Any]] | None = None
    query: str | None = None
    sort: list[dict[str, Any]] | None = None
    min_count: int = 1
    max_results: int = SEARCH_PAGE_LIMIT

    kind: ClassVar[str] = "search"

    def __post_init__(self) -> None:
        self.filters = list(self.filters or [])
        self.sort = list(self.sort) if self.sort else None
        self.query = self.query or None
        self.min_count = self._min_count(self.min_count)
        self.max_results = max(to_int(self.max_results, "max_results", minimum=1), self.min_count)

    def evaluate(self, hook: ContactsHook, now: datetime | None = None) -> CheckResult:
        """
        Run the search once.

        :param hook: the hook.
        :param now: unused.
        """
        contacts = _take(
            hook.search_contacts(
                filters=self.filters or None,
                query=self.query,
                sort=self.sort,
                page_limit=min(SEARCH_PAGE_LIMIT, self.max_results),
            ),
            self.max_results,
        )
        return _count_result(
            contacts, self.min_count, CONTACT_FIELDS, self.include_raw, "contact", self.max_results
        )


@dataclasses.dataclass
class DuplicateContactCheck(ContactsCheck):
    """
    A contact with this email and/or phone exists (the API's duplicate rules decide the match).

    :param email: the email.
    :param phone: the phone.
    :param include_raw: return the whole contact instead of a summary.
    """

    email: str | None = None
    phone: str | None = None

    kind: ClassVar[str] = "duplicate"

    def __post_init__(self) -> None:
        self.email = self.email or None
        self.phone = self.phone or None
        if not (self.email or self.phone):
            raise ContactsConfigError("give an email or a phone to look for")

    def evaluate(self, hook: ContactsHook, now: datetime | None = None) -> CheckResult:
        """
        Ask the duplicate endpoint once.

        :param hook: the hook.
        :param now: unused.
        """
        contact = hook.find_duplicate_contact(email=self.email, phone=self.phone)
        if not contact:
            return CheckResult("waiting", message=f"no contact with email={self.email} phone={self.phone}")
        summary = summarize(
            contact, (*CONTACT_FIELDS, "dateAdded", "dateUpdated"), include_raw=self.include_raw
        )
        return CheckResult(
            "success", {"contact_id": contact.get("id"), "contact": summary}, "found a contact"
        )


@dataclasses.dataclass
class _PerContactCheck(ContactsCheck):
    """A check over the items of each of some contacts (tasks, notes, appointments: one request each)."""

    contact_ids: Any = None
    min_count: int = 1

    #: The hook method that lists one contact's items, and the fields a summary keeps.
    hook_method: ClassVar[str]
    fields: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        self.contact_ids = to_list(self.contact_ids, "contact_ids")
        if not self.contact_ids:
            raise ContactsConfigError("give at least one contact id")
        self.min_count = self._min_count(self.min_count)

    @abc.abstractmethod
    def matches(self, item: Mapping[str, Any], now: datetime) -> bool:
        """Whether an item counts."""

    def evaluate(self, hook: ContactsHook, now: datetime | None = None) -> CheckResult:
        """
        List the items of every contact (one request each) and count those that match.

        :param hook: the hook.
        :param now: the current time (UTC).
        """
        now = now or utcnow()
        found = []
        for contact_id in self.contact_ids:
            for item in getattr(hook, self.hook_method)(contact_id) or []:
                if self.matches(item, now):
                    found.append({"contactId": contact_id, **item})
        return _count_result(found, self.min_count, self.fields, self.include_raw, self.kind)


@dataclasses.dataclass
class ContactTaskCheck(_PerContactCheck):
    """
    Tasks of one or many contacts that are new, completed, or due.

    :param contact_ids: the contacts (a list, or a comma-separated / JSON list string).
    :param condition: ``new`` (created at or after ``since``, and not in ``exclude_ids``), ``completed``,
        or ``due`` (open, with ``dueDate`` before ``due_before``, default now).
    :param since: for ``new``: the earliest creation time (tasks without a creation time then never
        count; leave None and use ``exclude_ids`` for an API that gives none).
    :param due_before: for ``due``: the deadline; now when None.
    :param task_ids: only these tasks.
    :param exclude_ids: task ids that never count (for ``new``: the ones already known).
    :param min_count: how many matching tasks make the condition true.
    :param include_raw: return whole task objects instead of summaries.
    """

    condition: str = "new"
    since: Any = None
    due_before: Any = None
    task_ids: Any = None
    exclude_ids: Any = None

    kind: ClassVar[str] = "task"
    hook_method: ClassVar[str] = "get_tasks"
    fields: ClassVar[tuple[str, ...]] = TASK_FIELDS
    CONDITIONS: ClassVar[tuple[str, ...]] = ("new", "completed", "due")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.condition not in self.CONDITIONS:
            raise ContactsConfigError(f"condition must be one of {self.CONDITIONS}, not {self.condition!r}")
        self.since = to_api_time(self.since)
        self.due_before = to_api_time(self.due_before)
        self.task_ids = to_list(self.task_ids, "task_ids")
        self.exclude_ids = to_list(self.exclude_ids, "exclude_ids")

    def matches(self, item: Mapping[str, Any], now: datetime) -> bool:
        """Whether a task is new / completed / due."""
        task_id = item.get("id")
        if (self.task_ids and task_id not in self.task_ids) or task_id in (self.exclude_ids or []):
            return False
        if self.condition == "completed":
            return bool(item.get("completed"))
        if self.condition == "due":
            deadline = to_datetime(self.due_before) or now
            return not item.get("completed") and _in_range(item.get("dueDate"), None, deadline)
        created = next((item[k] for k in TASK_CREATED_KEYS if item.get(k)), None)
        return self.since is None or _in_range(created, to_datetime(self.since), None)


@dataclasses.dataclass
class ContactNoteCheck(_PerContactCheck):
    """
    Notes added to one or many contacts at or after ``since``.

    :param contact_ids: the contacts (a list, or a comma-separated / JSON list string).
    :param since: the earliest ``dateAdded``; None counts every note.
    :param exclude_ids: note ids that never count.
    :param min_count: how many notes make the condition true.
    :param include_raw: return whole notes instead of summaries (whose body is cut at 500 characters).
    """

    since: Any = None
    exclude_ids: Any = None

    kind: ClassVar[str] = "note"
    hook_method: ClassVar[str] = "get_notes"
    fields: ClassVar[tuple[str, ...]] = NOTE_FIELDS

    def __post_init__(self) -> None:
        super().__post_init__()
        self.since = to_api_time(self.since)
        self.exclude_ids = to_list(self.exclude_ids, "exclude_ids")

    def matches(self, item: Mapping[str, Any], now: datetime) -> bool:
        """Whether a note is new."""
        if item.get("id") in (self.exclude_ids or []):
            return False
        return self.since is None or _in_range(item.get("dateAdded"), to_datetime(self.since), None)


@dataclasses.dataclass
class ContactAppointmentCheck(_PerContactCheck):
    """
    Appointments of one or many contacts, optionally starting in [start, end) and in some statuses.

    Appointment times without a zone (the API's ``"2021-07-16 11:00:00"``) are read as UTC.

    :param contact_ids: the contacts (a list, or a comma-separated / JSON list string).
    :param start: earliest ``startTime``, inclusive; None for no bound.
    :param end: latest ``startTime``, exclusive; None for no bound.
    :param statuses: only appointments whose ``appointmentStatus`` or ``status`` is one of these
        (case-insensitive), e.g. ``["confirmed"]``.
    :param min_count: how many appointments make the condition true.
    :param include_raw: return whole appointments instead of summaries.
    """

    start: Any = None
    end: Any = None
    statuses: Any = None

    kind: ClassVar[str] = "appointment"
    hook_method: ClassVar[str] = "get_appointments"
    fields: ClassVar[tuple[str, ...]] = APPOINTMENT_FIELDS

    def __post_init__(self) -> None:
        super().__post_init__()
        self.start = to_api_time(self.start)
        self.end = to_api_time(self.end)
        self.statuses = [s.lower() for s in to_list(self.statuses, "statuses")]

    def matches(self, item: Mapping[str, Any], now: datetime) -> bool:
        """Whether an appointment is in the window and status."""
        if self.statuses:
            status = {str(item.get(k) or "").lower() for k in ("appointmentStatus", "status")}
            if not status & set(self.statuses):
                return False
        if self.start is None and self.end is None:
            return True
        return _in_range(item.get("startTime"), to_datetime(self.start), to_datetime(self.end))


@dataclasses.dataclass
class BusinessContactsCheck(ContactsCheck):
    """
    A business has at least ``min_count`` contacts (optionally: added at or after ``since``, not excluded).

    Pages the business's contacts (one request per page of the API); stops at ``max_results``.

    :param business_id: the business.
    :param query: the list's full-text query.
    :param since: only contacts whose ``dateAdded`` is at or after this.
    :param exclude_ids: contact ids that never count (e.g. the members already known).
    :param min_count: how many contacts make the condition true.
    :param max_results: how many contacts to return at most.
    :param include_raw: return whole contacts instead of summaries.
    """

    business_id: str = ""
    query: str | None = None
    since: Any = None
    exclude_ids: Any = None
    min_count: int = 1
    max_results: int = SEARCH_PAGE_LIMIT

    kind: ClassVar[str] = "business"

    def __post_init__(self) -> None:
        if not self.business_id:
            raise ContactsConfigError("business_id is required")
        self.query = self.query or None
        self.since = to_api_time(self.since)
        self.exclude_ids = to_list(self.exclude_ids, "exclude_ids")
        self.min_count = self._min_count(self.min_count)
        self.max_results = max(to_int(self.max_results, "max_results", minimum=1), self.min_count)

    def evaluate(self, hook: ContactsHook, now: datetime | None = None) -> CheckResult:
        """
        List the business's contacts once.

        :param hook: the hook.
        :param now: unused.
        """
        since = to_datetime(self.since)
        wanted = (
            c
            for c in hook.get_business_contacts(self.business_id, query=self.query)
            if c.get("id") not in (self.exclude_ids or [])
            and (since is None or _in_range(c.get("dateAdded"), since, None))
        )
        contacts = _take(wanted, self.max_results)
        fields = (*CONTACT_FIELDS, "dateAdded")
        return _count_result(contacts, self.min_count, fields, self.include_raw, "contact", self.max_results)


def _take(items: Iterable[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` items, each id once; stops consuming (and paging) at the limit."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        out.setdefault(str(item.get("id")), item)
        if len(out) >= limit:
            break
    return list(out.values())


def _count_result(
    items: list[dict[str, Any]],
    min_count: int,
    fields: Iterable[str],
    include_raw: bool,
    name: str,
    limit: int | None = None,
) -> CheckResult:
    """The verdict of a check that counts items: success with their ids and summaries at ``min_count``."""
    fields = tuple(fields)
    xcom = {
        "count": len(items),
        f"{name}_ids": [i.get("id") for i in items],
        f"{name}s": [summarize(i, fields, include_raw=include_raw) for i in items],
    }
    if limit is not None:
        xcom["truncated"] = len(items) >= limit
    message = f"{len(items)} {name}(s) found, {min_count} wanted"
    return CheckResult("success" if len(items) >= min_count else "waiting", xcom, message)

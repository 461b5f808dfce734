"""
Contact metrics for one reporting run, computed through the ``ContactsHook``.

What it costs, in API requests (the budget is 100 per 10 s and 200,000 a day per location):

- counts (total, new in the interval, updated in the interval): one search each with ``pageLimit: 1``,
  read from the answer's ``total``; never a scan.
- tag counts: one pass over the search results, 500 contacts a page, stopping after ``tag_scan_limit``
  contacts (most recently updated first); ``tag_contacts_scanned`` says how many were seen.
- tasks: exact counts for the whole location from the Locations API's task search (scope
  ``locations/tasks.readonly``), ``skip``/``limit`` pages of 100: ``tasks // 100 + 1`` requests. With
  ``task_filters``, the tasks of the (at most ``task_contact_limit``) contacts those filters pick, through the
  same search's ``contactId`` filter.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import Any, Protocol

from airflow_provider_contacts.api_versions import SEARCH_PAGE_LIMIT
from airflow_provider_contacts.coercion import to_datetime
from airflow_provider_contacts.hooks.search import count_contacts, range_filter

DEFAULT_TAG_SCAN_LIMIT = 10_000
DEFAULT_TASK_CONTACT_LIMIT = 200
DEFAULT_TOP_TAGS = 10


class ContactsReader(Protocol):
    """The part of ``ContactsHook`` that the metrics need."""

    @property
    def location_id(self) -> str: ...

    @property
    def requests_sent(self) -> int: ...

    def request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Any: ...

    def search_contacts(
        self,
        filters: Sequence[Mapping[str, Any]] | None = None,
        query: str | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        page_limit: int = SEARCH_PAGE_LIMIT,
    ) -> Iterable[dict[str, Any]]: ...

    def search_location_tasks(self, contact_ids: Sequence[str] | None = None) -> Iterable[dict[str, Any]]: ...


@dataclass(frozen=True)
class ContactMetrics:
    """
    The figures of one reporting run; ``as_row()`` is a row of the ``contacts_metrics`` table.

    :param computed_at: when the figures were computed (UTC).
    :param interval_start: start of the interval that "new" and "updated" refer to (inclusive).
    :param interval_end: end of that interval (exclusive).
    :param location_id: the location (sub-account) the figures describe.
    :param contacts_total: every contact of the location (the search's ``total``).
    :param contacts_new: contacts added in the interval.
    :param contacts_updated: contacts added before the interval and updated in it.
    :param tasks_total: tasks of the location (or of the contacts ``task_filters`` picked).
    :param tasks_open: of them, not completed.
    :param tasks_overdue: of the open ones, due before ``interval_end``.
    :param tasks_completed: of them, completed.
    :param task_contacts_scanned: how many contacts' tasks were counted (every contact without filters).
    :param tag_contacts_scanned: how many contacts the tag counts cover.
    :param top_tags: the most used tags and their contact counts, most used first.
    :param last_sync_at: when the last sync run finished, if known.
    :param api_requests: HTTP requests this computation sent (the hook's ``requests_sent``, retries included).
    """

    computed_at: datetime
    interval_start: datetime
    interval_end: datetime
    location_id: str
    contacts_total: int
    contacts_new: int
    contacts_updated: int
    tasks_total: int
    tasks_open: int
    tasks_overdue: int
    tasks_completed: int
    task_contacts_scanned: int
    tag_contacts_scanned: int
    top_tags: dict[str, int] = field(default_factory=dict)
    last_sync_at: datetime | None = None
    api_requests: int = 0

    def as_row(self, dag_id: str | None = None, run_id: str | None = None) -> dict[str, Any]:
        """
        Return the figures as a ``contacts_metrics`` row (tags as a JSON object).

        :param dag_id: the DAG that computed them.
        :param run_id: the run that computed them.
        """
        row = asdict(self)
        row["top_tags"] = json.dumps(self.top_tags)
        return {"dag_id": dag_id, "run_id": run_id, **row}

    def to_json(self) -> dict[str, Any]:
        """Return the figures as JSON-able values (datetimes as ISO strings), e.g. for XCom."""
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ContactMetrics:
        """
        Rebuild the figures from :meth:`to_json`'s output.

        :param data: the JSON form.
        """
        values = dict(data)
        for name in ("computed_at", "interval_start", "interval_end", "last_sync_at"):
            values[name] = to_datetime(values.get(name), name)
        values["top_tags"] = dict(values.get("top_tags") or {})
        return cls(**values)


def top_tags_of(row: Mapping[str, Any]) -> dict[str, int]:
    """
    Return a metrics row's top tags as a dict, whether stored as JSON text or already decoded.

    :param row: a ``contacts_metrics`` row.
    """
    value = row.get("top_tags") or {}
    return dict(json.loads(value)) if isinstance(value, str) else dict(value)


@dataclass
class TaskCounts:
    """Task counts over some contacts."""

    total: int = 0
    open: int = 0
    overdue: int = 0
    completed: int = 0

    def add(self, task: Mapping[str, Any], as_of: datetime) -> None:
        """
        Count one task.

        :param task: the API's task object (``completed``, ``dueDate``).
        :param as_of: a task still open and due before this moment is overdue.
        """
        self.total += 1
        if task.get("completed"):
            self.completed += 1
            return
        self.open += 1
        due = to_datetime(task.get("dueDate"), "dueDate")
        if due is not None and due < as_of:
            self.overdue += 1


def count_tasks(tasks: Iterable[Mapping[str, Any]], as_of: datetime) -> TaskCounts:
    """
    Count tasks (consumed lazily, page after page).

    :param tasks: the API's task objects.
    :param as_of: open tasks due before this moment count as overdue.
    """
    counts = TaskCounts()
    for task in tasks:
        counts.add(task, as_of)
    return counts


def _take(items: Iterable[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` items, consuming no more of a lazy pager than needed."""
    return list(islice(items, limit)) if limit > 0 else []


def compute_metrics(
    hook: ContactsReader,
    interval_start: datetime,
    interval_end: datetime,
    *,
    last_sync_at: datetime | None = None,
    top_n: int = DEFAULT_TOP_TAGS,
    tag_scan_limit: int = DEFAULT_TAG_SCAN_LIMIT,
    task_contact_limit: int = DEFAULT_TASK_CONTACT_LIMIT,
    task_filters: Sequence[Mapping[str, Any]] | None = None,
    max_workers: int = 4,
    now: datetime | None = None,
) -> ContactMetrics:
    """
    Compute the metrics of one run; the module docstring says what each figure costs.

    :param hook: the Contacts hook.
    :param interval_start: "new" and "updated" count contacts from here (inclusive)...
    :param interval_end: ...to here (exclusive); open tasks due before it are overdue.
    :param last_sync_at: when the last sync finished (from the audit table), reported as is.
    :param top_n: how many tags to keep, most used first.
    :param tag_scan_limit: count tags over at most this many contacts (most recently updated first).
    :param task_contact_limit: with ``task_filters``, count the tasks of at most this many of the contacts
        they pick (most recently updated first).
    :param task_filters: search filters choosing the contacts whose tasks are counted; None counts every task
        of the location.
    :param max_workers: unused (kept for compatibility: tasks are counted by one paged search).
    :param now: the computation time; the current time by default.
    """
    if interval_end <= interval_start:
        raise ValueError(f"Empty interval: {interval_start} .. {interval_end}")
    sent_before = hook.requests_sent
    total = count_contacts(hook)
    new = count_contacts(hook, [range_filter("dateAdded", gte=interval_start, lt=interval_end)])
    updated = count_contacts(
        hook,
        [
            range_filter("dateUpdated", gte=interval_start, lt=interval_end),
            range_filter("dateAdded", lt=interval_start),
        ],
    )

    sort = [{"field": "dateUpdated", "direction": "desc"}]
    scanned = _take(hook.search_contacts(sort=sort, page_limit=SEARCH_PAGE_LIMIT), tag_scan_limit)
    tags: Counter[str] = Counter()
    for contact in scanned:
        tags.update(set(contact.get("tags") or ()))
    if task_filters is None:
        tasks = count_tasks(hook.search_location_tasks(), as_of=interval_end)
        task_contacts_scanned = total
    else:
        page_limit = max(1, min(SEARCH_PAGE_LIMIT, task_contact_limit))
        found = hook.search_contacts(filters=list(task_filters), sort=sort, page_limit=page_limit)
        task_ids = [contact["id"] for contact in _take(found, task_contact_limit)]
        tasks = count_tasks(hook.search_location_tasks(contact_ids=task_ids), as_of=interval_end)
        task_contacts_scanned = len(task_ids)

    return ContactMetrics(
        computed_at=now or datetime.now(timezone.utc),
        interval_start=interval_start,
        interval_end=interval_end,
        location_id=hook.location_id,
        contacts_total=total,
        contacts_new=new,
        contacts_updated=updated,
        tasks_total=tasks.total,
        tasks_open=tasks.open,
        tasks_overdue=tasks.overdue,
        tasks_completed=tasks.completed,
        task_contacts_scanned=task_contacts_scanned,
        tag_contacts_scanned=len(scanned),
        top_tags=dict(sorted(tags.items(), key=lambda item: (-item[1], item[0]))[:top_n]),
        last_sync_at=last_sync_at,
        api_requests=hook.requests_sent - sent_before,
    )


def default_interval(
    previous_end: datetime | None, now: datetime, first_window: timedelta = timedelta(days=1)
) -> tuple[datetime, datetime]:
    """
    Return the interval a run reports on: from where the previous run stopped, else ``first_window`` back.

    :param previous_end: ``interval_end`` of the previous metrics row, if any.
    :param now: the end of the new interval.
    :param first_window: how far back the first run looks.
    """
    start = previous_end if previous_end is not None and previous_end < now else now - first_window
    return start, now

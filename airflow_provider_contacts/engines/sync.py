"""
The sync engine: many records into contacts, idempotently, at the API's rate budget.

``SyncContactsOperator`` (``operators/sync.py``) builds a :class:`SyncRun` from its arguments and runs it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_contacts.api_versions import SEARCH_PAGE_LIMIT
from airflow_provider_contacts.coercion import read_time, to_bool, to_datetime, to_float
from airflow_provider_contacts.concurrency import bounded_map
from airflow_provider_contacts.engines.contact_mapping import (
    STANDARD_FIELDS,
    ContactMapper,
    MappedContact,
    RecordError,
    RecordSource,
    Transform,
    describe_record,
)
from airflow_provider_contacts.exceptions import (
    ContactsApiError,
    ContactsAuthError,
    ContactsConfigError,
    ContactsPermissionError,
    ContactsRateLimitError,
    ContactsValidationError,
)
from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.progress import ProgressLogger

if TYPE_CHECKING:
    from airflow.sdk import Context


# Errors that no other record would escape: the run stops on them instead of failing record after record.
RUN_STOPPING_ERRORS = (
    ContactsAuthError,
    ContactsPermissionError,
    ContactsRateLimitError,
    ContactsConfigError,
)
# The search API takes filter values of at most 75 characters.
SEARCH_VALUE_MAX = 75
# A contact added this long before the run's ``run_after`` may still come from an earlier try of the run
# (covers clock skew between the worker and the API).
CLOCK_SKEW = timedelta(minutes=5)
TASK_TEMPLATE_KEYS = frozenset({"title", "body", "due_in_days", "due_date", "assigned_to"})
STATUSES = ("created", "updated", "unchanged", "failed")
# A follow-up task's create is sent at most this often in one try, each after checking it is still missing.
TASK_CREATE_ATTEMPTS = 3


class SyncOptions(Protocol):
    """What a sync run reads from its operator (``SyncContactsOperator``'s arguments)."""

    task_id: str
    records: Any
    field_mapping: Mapping[str, str] | None
    transforms: Mapping[str, Transform | Sequence[Transform]] | None
    default_country_code: str | None
    tags: Sequence[str] | None
    task_template: Mapping[str, Any] | None
    key_field: str | None
    max_failed_ratio: Any
    max_workers: int
    batch_size: int
    progress_interval: float

    @property
    def log(self) -> Any: ...

    @property
    def hook(self) -> ContactsHook: ...

    @property
    def dry_run(self) -> Any: ...


class SyncRun:
    """
    One execution of a sync: the hook, the mapper, the report, the counters.

    :param operator: the run's settings (the operator).
    :param context: the task's context (the run's ``run_after`` and try number).
    """

    def __init__(self, operator: SyncOptions, context: Context) -> None:
        self.op = operator
        self.log = operator.log
        self.hook: ContactsHook = operator.hook
        owner = f"task {operator.task_id!r}"
        self.dry_run = to_bool(operator.dry_run, "dry_run", owner=owner)
        self.max_failed_ratio = to_float(
            operator.max_failed_ratio, "max_failed_ratio", owner=owner, minimum=0
        )
        if self.max_failed_ratio > 1:
            raise ContactsConfigError(
                f"{owner}: max_failed_ratio must be between 0 and 1, got {operator.max_failed_ratio!r}"
            )
        self.mapper = ContactMapper(
            field_mapping=operator.field_mapping,
            transforms=operator.transforms,
            default_country_code=operator.default_country_code,
            tags=list(operator.tags or []),
            key_field=operator.key_field,
            custom_fields=self.hook.get_custom_fields,
        )
        dag_run = context.get("dag_run")
        run_after = getattr(dag_run, "run_after", None) or datetime.now(timezone.utc)
        ti = context.get("ti")
        rerun = (getattr(ti, "try_number", 1) or 1) > 1 or (getattr(dag_run, "clear_number", 0) or 0) > 0
        self.task = _FollowUpTask.from_template(operator.task_template, run_after)
        # Only a re-run can find contacts an earlier try of the same run created (and maybe left without
        # their task); a first try never needs to look.
        self.created_since = run_after - CLOCK_SKEW if rerun else None
        self.source = RecordSource(operator.records)
        self.entries: dict[int, dict[str, Any]] = {}
        self.total = 0
        self.requests_before = self.hook.requests_sent
        self.tasks_created = 0
        self.started = time.monotonic()
        self.stopped_before_writing = False
        self._lock = threading.Lock()
        self._search_phones = True
        self.progress: ProgressLogger | None = None

    # ----------------------------------------------------------------------------------- bookkeeping

    @property
    def api_calls(self) -> int:
        """HTTP requests this run sent, retries included, as the hook counts them."""
        return self.hook.requests_sent - self.requests_before

    def record(self, entry: dict[str, Any]) -> None:
        self.entries[entry["index"]] = {key: value for key, value in entry.items() if value is not None}
        if self.progress is not None:
            self.progress.advance(failed=1 if entry["status"] == "failed" else 0)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for entry in self.entries.values():
            counts[entry["status"]] += 1
        return counts

    def report(self) -> dict[str, Any]:
        seconds = time.monotonic() - self.started
        done = len(self.entries)
        summary = {
            "total": self.total,
            **self.counts(),
            "tasks_created": self.tasks_created,
            "api_calls": self.api_calls,
            "api_calls_per_record": round(self.api_calls / done, 3) if done else 0.0,
            "seconds": round(seconds, 3),
            "records_per_second": round(done / seconds, 2) if seconds > 0 else 0.0,
            "dry_run": self.dry_run,
            "source": self.source.description,
            **self.hook.report_origin(),
        }
        return {"summary": summary, "records": [self.entries[i] for i in sorted(self.entries)]}

    # ------------------------------------------------------------------------------------------ run

    def sync(self) -> dict[str, Any]:
        self.mapper.check_mapping()
        if not self.dry_run:
            self.hook.check_write_access()  # a read-only connection fails before the validation pass
        self.validate_all()
        failed = self.counts()["failed"]
        if self.total and failed / self.total > self.max_failed_ratio:
            self.stopped_before_writing = True
            return self.report()
        self.progress = ProgressLogger(
            self.log, "records", total=self.total, interval=self.op.progress_interval
        )
        if failed:
            self.progress.advance(count=failed, failed=failed)
        if self.dry_run:
            for batch in self.batches():
                existing = self.prefetch(batch)
                for contact in batch:
                    self.record(self.plan(contact, self.match(contact, existing)))
        else:
            self.write_all()
        self.progress.finish()
        return self.report()

    def validate_all(self) -> None:
        """Pass 1: map and check every record, without a request; failures go to the report."""
        for index, record in enumerate(self.source):
            self.total += 1
            try:
                self.mapper.map(index, record)
            except RecordError as error:
                label = self.mapper.record_label(record)
                self.record({"index": index, "label": label, "status": "failed", "error": str(error)})

    def batches(self) -> Iterator[list[MappedContact]]:
        """Pass 2: the valid records again, mapped, a batch at a time."""
        batch: list[MappedContact] = []
        for index, record in enumerate(self.source):
            if index in self.entries:
                continue  # failed validation in pass 1
            batch.append(self.mapper.map(index, record))
            if len(batch) >= self.op.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def write_all(self) -> None:
        def writes() -> Iterator[tuple[MappedContact, dict[str, Any] | None, list[str] | None]]:
            for batch in self.batches():
                existing = self.prefetch(batch)
                for contact in batch:
                    match = self.match(contact, existing)
                    changes = self.mapper.changes(contact, match) if match else None
                    if match and not changes and not self.needs_task_check(match):
                        self.record(self.entry(contact, "unchanged", match))
                        continue
                    yield contact, match, changes

        for _, entry in bounded_map(  # a run-stopping error is raised here, and the rest is cancelled
            lambda write: self.write(*write),
            writes(),
            workers=self.op.max_workers,
            in_flight=self.op.max_workers * 2,
            name="contacts-sync",
        ):
            self.record(entry)

    # -------------------------------------------------------------------------------------- lookup

    def prefetch(self, batch: list[MappedContact]) -> dict[str, dict[str, Any]]:
        """The batch's existing contacts, by ``email:...`` and ``phone:...``, from one search request."""
        filters = [
            {"field": "email", "operator": "eq", "value": c.email}
            for c in batch
            if c.email and len(c.email) <= SEARCH_VALUE_MAX
        ]
        phones = [
            {"field": "phone", "operator": "eq", "value": c.phone}
            for c in batch
            if c.phone and self._search_phones
        ]
        try:
            found = self.search(filters + phones)
        except ContactsValidationError as error:
            if not phones:
                raise
            # Some accounts reject phone filters: look up by e-mail only from now on.
            self.log.warning(
                "Search by phone was refused (%s); matching existing contacts by e-mail only", error
            )
            self._search_phones = False
            found = self.search(filters)
        existing: dict[str, dict[str, Any]] = {}
        for contact in found:
            if contact.get("email"):
                existing.setdefault(f"email:{str(contact['email']).strip().lower()}", contact)
            if contact.get("phone"):
                existing.setdefault(f"phone:{_digits(contact['phone'])}", contact)
        return existing

    def search(self, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not filters:
            return []
        query = [{"group": "OR", "filters": filters}]
        return list(self.hook.search_contacts(filters=query, page_limit=SEARCH_PAGE_LIMIT))

    @staticmethod
    def match(contact: MappedContact, existing: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
        """The existing contact an upsert would update: by e-mail first, then by phone."""
        if contact.email and f"email:{contact.email}" in existing:
            return existing[f"email:{contact.email}"]
        if contact.phone:
            return existing.get(f"phone:{_digits(contact.phone)}")
        return None

    def needs_task_check(self, existing: Mapping[str, Any]) -> bool:
        """Whether an existing contact may have been created by an earlier try of this run."""
        if self.task is None or self.created_since is None:
            return False
        added = read_time(existing.get("dateAdded"))
        return added is None or added >= self.created_since

    # --------------------------------------------------------------------------------------- write

    def entry(
        self, contact: MappedContact, status: str, existing: Mapping[str, Any] | None, **more: Any
    ) -> dict[str, Any]:
        return {
            "index": contact.index,
            "label": contact.label,
            "status": status,
            "contact_id": (existing or {}).get("id"),
            **more,
        }

    def plan(self, contact: MappedContact, existing: dict[str, Any] | None) -> dict[str, Any]:
        """Dry run: what a write would do."""
        if existing is None:
            task = "would create" if self.task else None
            if task:
                with self._lock:
                    self.tasks_created += 1
            return self.entry(contact, "created", None, task=task)
        existing, changes = self.confirm(contact, existing, self.mapper.changes(contact, existing))
        return self.entry(contact, "updated" if changes else "unchanged", existing, changes=changes or None)

    def confirm(
        self, contact: MappedContact, existing: dict[str, Any], changes: list[str] | None
    ) -> tuple[dict[str, Any], list[str] | None]:
        """
        Re-read a contact whose search result lacks a field that looks changed.

        The real search omits some fields (``timezone``, ``dndSettings``); one read is cheaper than an
        upsert that changes nothing but still fires the location's update webhooks and workflows.
        """
        if changes and any(name in STANDARD_FIELDS and name not in existing for name in changes):
            existing = self.hook.get_contact(existing["id"])
            changes = self.mapper.changes(contact, existing)
        return existing, changes

    def write(
        self, contact: MappedContact, existing: dict[str, Any] | None, changes: list[str] | None
    ) -> dict[str, Any]:
        """Upsert one contact when it differs, then make sure it has its follow-up task (worker thread)."""
        name = describe_record(contact.index, contact.label)
        try:
            if existing is not None:
                existing, changes = self.confirm(contact, existing, changes)
            status, target, new, maybe_new = "unchanged", existing, False, False
            if existing is None or changes:
                answer = self.hook.upsert_contact(self.mapper.body(contact, existing))
                new, maybe_new = bool(answer.get("new")), bool(answer.get("maybe_new"))
                target = answer.get("contact") or {}
                status = "created" if new else "updated"
        except RUN_STOPPING_ERRORS:
            raise
        except ContactsApiError as error:
            return self.entry(
                contact, "failed", existing, error=f"{name}: upsert refused: {_api_message(error)}"
            )
        result = self.entry(contact, status, target, changes=changes or None)
        # ``maybe_new``: a lost answer may have hidden that this upsert created the contact; ensure_task looks.
        if self.task is not None and target and (new or maybe_new or self.needs_task_check(target)):
            try:
                result["task"] = self.ensure_task(contact, target, new)
            except RUN_STOPPING_ERRORS:
                raise
            except ContactsApiError as error:
                result.update(status="failed", error=f"{name}: follow-up task failed: {_api_message(error)}")
        return result

    def ensure_task(self, contact: MappedContact, target: Mapping[str, Any], new: bool) -> str:
        """
        Create the follow-up task unless the contact has one with the same title and due date.

        The API can create a task and still answer 5xx or drop the answer, and the hook never re-sends a
        create blindly; so after such a failure the contact's tasks are read, and the create is sent again
        only when the task is not there.
        """
        assert self.task is not None
        title, body = self.task.render(contact)
        if not new and self.has_task(target["id"], title):  # an earlier try may have created it
            return "exists"
        for attempt in range(1, TASK_CREATE_ATTEMPTS + 1):
            try:
                self.hook.create_task(
                    target["id"],
                    title=title,
                    due_date=self.task.due,
                    body=body,
                    assigned_to=self.task.assigned_to,
                )
                break
            except ContactsApiError as error:
                maybe_applied = error.status is None or error.status >= 500
                if not maybe_applied or attempt == TASK_CREATE_ATTEMPTS:
                    raise
                if self.has_task(target["id"], title):
                    break
        with self._lock:
            self.tasks_created += 1
        return "created"

    def has_task(self, contact_id: str, title: str) -> bool:
        """Whether the contact has the follow-up task already (same title, same due day)."""
        assert self.task is not None
        return any(
            str(task.get("title") or "").strip() == title and _same_day(task.get("dueDate"), self.task.due)
            for task in self.hook.get_tasks(contact_id)
        )


def summary_line(s: Mapping[str, Any]) -> str:
    """One log line for a sync report's summary."""
    verb = "would be " if s["dry_run"] else ""
    return (
        f"{'DRY RUN: ' if s['dry_run'] else ''}Synced {s['total']} records from {s['source']}: "
        f"{s['created']} {verb}created, {s['updated']} {verb}updated, {s['unchanged']} unchanged, "
        f"{s['failed']} failed; {s['tasks_created']} follow-up tasks {verb}created; "
        f"{s['api_calls']} API calls ({s['api_calls_per_record']} per record); "
        f"{s['seconds']:.1f}s, {s['records_per_second']} records/s"
    )


class _FollowUpTask:
    """The follow-up task of ``task_template``, with its due date fixed for the whole run."""

    def __init__(self, title: str, due: datetime, body: str | None, assigned_to: str | None) -> None:
        self.title = title
        self.due = due
        self.body = body
        self.assigned_to = assigned_to

    @classmethod
    def from_template(cls, template: Mapping[str, Any] | None, run_after: datetime) -> _FollowUpTask | None:
        if not template:
            return None
        if not isinstance(template, Mapping):
            raise ContactsConfigError(f"task_template must be a dict, got {type(template).__name__}")
        unknown = set(template) - TASK_TEMPLATE_KEYS
        if unknown:
            raise ContactsConfigError(
                f"task_template has unknown keys {sorted(unknown)}; use {sorted(TASK_TEMPLATE_KEYS)}"
            )
        title = str(template.get("title") or "").strip()
        if not title:
            raise ContactsConfigError("task_template needs a title")
        if ("due_date" in template) == ("due_in_days" in template):
            raise ContactsConfigError("task_template needs either due_in_days or due_date")
        if "due_date" in template:
            due = to_datetime(template["due_date"], "task_template due_date")
            if due is None:
                raise ContactsConfigError(f"task_template due_date {template['due_date']!r} is not ISO-8601")
        else:
            days = to_float(template["due_in_days"], "task_template due_in_days")
            due = run_after.astimezone(timezone.utc) + timedelta(days=days)
        return cls(title, due.replace(microsecond=0), template.get("body"), template.get("assigned_to"))

    def render(self, contact: MappedContact) -> tuple[str, str | None]:
        """Title and body with ``{field}`` replaced by the contact's mapped fields (unknown ones stay)."""
        return _fill(self.title, contact.fields), _fill(self.body, contact.fields) if self.body else None


class _Fields(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fill(text: str, fields: Mapping[str, Any]) -> str:
    try:
        return str(text).format_map(_Fields(fields)).strip()
    except (ValueError, IndexError, AttributeError):
        return str(text).strip()


def _api_message(error: ContactsApiError) -> str:
    status = f"HTTP {error.status}" if error.status is not None else "no answer"
    return f"{status}: {'; '.join(error.messages)}"


def _digits(phone: Any) -> str:
    return re.sub(r"\D", "", str(phone))


def _same_day(value: Any, due: datetime) -> bool:
    parsed = read_time(value)
    return parsed is not None and parsed.astimezone(timezone.utc).date() == due.date()

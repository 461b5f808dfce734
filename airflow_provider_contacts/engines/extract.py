"""
The extraction engine: contacts changed in a window, with their tasks, notes and appointments, in batches.

What it costs, in API requests, for ``N`` changed contacts in the window:

- contacts: one search per 500 (``dateUpdated`` in the window, oldest first): ``ceil(N / 500)``, and at least
  one, so a window with no change costs exactly one request; plus one count when the first page is full (for
  the ETA of the progress lines);
- tasks: the Locations API's task search for each batch's contacts (``contactId`` filter), ``skip``/``limit``
  pages of 100: about ``tasks / 100`` plus one per batch;
- notes and appointments: the API has no bulk or location-wide read for them, so one request per changed
  contact each; leave them out of ``include`` when they are not needed;
- the custom field definitions: one request per run.

Memory holds one batch at a time. Each target (SQL, object storage) consumes :class:`Batch` objects.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.api_versions import SEARCH_PAGE_LIMIT
from airflow_provider_contacts.concurrency import bounded_map
from airflow_provider_contacts.engines.records import (
    CHILD_ENTITIES,
    MAPPING_ENTITY,
    CustomFields,
    FieldError,
    TableSpec,
    rows_of,
    table_specs,
)
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.hooks.search import count_contacts, range_filter
from airflow_provider_contacts.progress import ProgressLogger
from airflow_provider_contacts.windows import Window

if TYPE_CHECKING:
    from airflow_provider_contacts.hooks.contacts import ContactsHook

#: Bad records logged one by one, and kept for the report; beyond them they are only counted.
LOGGED_ERRORS = 20
KEPT_ERRORS = 100


def check_settings(include: Sequence[str], custom_fields: str, max_workers: int) -> None:
    """
    Check an extraction's settings (at DAG parse time in the operators, so a typo fails early).

    :param include: related records to bring.
    :param custom_fields: ``json`` or ``columns``.
    :param max_workers: concurrent requests.
    """
    unknown = set(include) - set(CHILD_ENTITIES)
    if unknown:
        raise ContactsConfigError(f"include: unknown {sorted(unknown)}; choose among {list(CHILD_ENTITIES)}")
    if custom_fields not in ("json", "columns"):
        raise ContactsConfigError(f"custom_fields must be 'json' or 'columns', got {custom_fields!r}")
    if max_workers < 1:
        raise ContactsConfigError("max_workers must be at least 1")


@dataclass
class Batch:
    """
    One batch of extracted rows.

    :param rows: entity -> rows (``contacts`` first).
    :param contact_ids: the ids of the batch's contacts (also those whose row was bad).
    :param seen: related entity -> the ids of every record of the batch's contacts that the API has (bad
        ones included): a stored record of these contacts missing from it is gone in HighLevel.
    """

    rows: dict[str, list[dict[str, Any]]]
    contact_ids: list[str]
    seen: dict[str, list[str]] = field(default_factory=dict)


class ContactsExtractor:
    """
    Extract the contacts changed in a window (and their related records) in batches of rows.

    :param hook: the Contacts hook.
    :param window: the ``dateUpdated`` window.
    :param include: related records to bring: any of ``tasks``, ``notes``, ``appointments``.
    :param custom_fields: ``json`` (one column) or ``columns`` (one column per field, by key).
    :param max_workers: concurrent requests for notes and appointments (they share the rate budget).
    :param progress_interval: seconds between two progress lines.
    """

    def __init__(
        self,
        hook: ContactsHook,
        window: Window,
        *,
        include: Sequence[str] = CHILD_ENTITIES,
        custom_fields: str = "json",
        max_workers: int = 4,
        progress_interval: float = 10.0,
    ) -> None:
        check_settings(include, custom_fields, max_workers)
        self.hook = hook
        self.window = window
        self.include = tuple(include)
        self.custom_fields_mode = custom_fields
        self.max_workers = max_workers
        self.progress_interval = progress_interval
        self.log = hook.log
        self.errors: list[dict[str, str]] = []
        #: entity -> bad records, all of them (``errors`` keeps the first ``KEPT_ERRORS``).
        self.bad_counts: Counter[str] = Counter()
        self.counts: dict[str, int] = {}
        self.requests_before = hook.requests_sent
        self.loaded_at = datetime.now(timezone.utc)
        self._specs: dict[str, TableSpec] | None = None
        self._custom: CustomFields | None = None
        self._mapped = False

    @property
    def specs(self) -> dict[str, TableSpec]:
        """The tables, with the location's custom fields (read once, on first use)."""
        if self._specs is None:
            try:
                self._custom = CustomFields(self.custom_fields_mode, tuple(self.hook.get_custom_fields()))
                self._specs = table_specs(self._custom, self.include)
            except ValueError as error:
                raise ContactsConfigError(str(error)) from None
        return self._specs

    @property
    def known_specs(self) -> dict[str, TableSpec]:
        """The tables when the run has read them, else nothing (a run with no change never needs them)."""
        return self._specs or {}

    @property
    def api_calls(self) -> int:
        """Requests sent since the extractor was made (retries included)."""
        return self.hook.requests_sent - self.requests_before

    def bad_record(self, entity: str, record_id: str, error: FieldError) -> None:
        """Report a record that cannot be written; the others go on."""
        self.bad_counts[entity] += 1
        if len(self.errors) < KEPT_ERRORS:
            self.errors.append(
                {"entity": entity, "id": record_id, "field": error.field, "error": error.message}
            )
        if self.bad_counts.total() <= LOGGED_ERRORS:
            self.log.warning("bad %s record %s: %s", entity, record_id, error)

    def changed_contacts(self) -> Iterator[dict[str, Any]]:
        """The window's contacts, oldest change first, lazily."""
        return self.hook.search_contacts(
            filters=[range_filter("dateUpdated", self.window.start, self.window.end)],
            sort=[{"field": "dateUpdated", "direction": "asc"}],
            page_limit=SEARCH_PAGE_LIMIT,
        )

    def batches(self) -> Iterator[Batch]:
        """Extract batch after batch (one search page each); progress is logged as it goes."""
        # The custom field definitions are read with the first batch: a window with no change costs one search.
        self.counts = dict.fromkeys(("contacts", *self.include), 0)
        progress = ProgressLogger(self.log, "contacts extracted", interval=self.progress_interval)
        started = time.monotonic()
        chunk: list[dict[str, Any]] = []
        for contact in self.changed_contacts():
            chunk.append(contact)
            if len(chunk) == SEARCH_PAGE_LIMIT:
                if progress.total is None and progress.done == 0:
                    progress.total = self._window_total()
                yield self._batch(chunk, progress)
                chunk = []
        if chunk:
            yield self._batch(chunk, progress)
        progress.finish()
        self.log.info(
            "extracted %s in %.1fs with %d API requests; %d bad records",
            ", ".join(f"{n} {entity}" for entity, n in self.counts.items()),
            time.monotonic() - started,
            self.api_calls,
            self.bad_counts.total(),
        )

    def _window_total(self) -> int | None:
        filters = [range_filter("dateUpdated", self.window.start, self.window.end)]
        return count_contacts(self.hook, filters)

    def _batch(self, contacts: list[dict[str, Any]], progress: ProgressLogger) -> Batch:
        specs = self.specs
        ids = [str(c.get("id")) for c in contacts if isinstance(c, Mapping) and c.get("id")]
        rows = {"contacts": rows_of(specs["contacts"], contacts, self.loaded_at, self.bad_record)}
        related: dict[str, list[tuple[str | None, list[Any]]]] = {}
        if "tasks" in specs:
            related["tasks"] = [(None, list(self.hook.search_location_tasks(contact_ids=ids)))]
        for entity, method in (("notes", "get_notes"), ("appointments", "get_appointments")):
            if entity in specs:
                done = dict(
                    bounded_map(
                        getattr(self.hook, method), ids, workers=self.max_workers, name="contacts-extract"
                    )
                )
                related[entity] = [(contact_id, done[contact_id]) for contact_id in ids]
        seen: dict[str, list[str]] = {}
        for entity, groups in related.items():
            rows[entity] = [
                row
                for contact_id, records in groups
                for row in rows_of(specs[entity], records, self.loaded_at, self.bad_record, contact_id)
            ]
            seen[entity] = [
                str(r["id"])
                for _, records in groups
                for r in records
                if isinstance(r, Mapping) and r.get("id")
            ]
        for entity, entity_rows in rows.items():
            self.counts[entity] += len(entity_rows)
        if self._custom is not None and not self._mapped:
            # The custom fields' mapping (id -> column, JSON key) lands once per run, with the first batch.
            rows[MAPPING_ENTITY] = self._custom.mapping_rows(self.loaded_at)
            self._mapped = True
        progress.advance(len(contacts), failed=len(contacts) - len(rows["contacts"]))
        return Batch(rows, ids, seen)

    def all_contact_ids(self) -> Iterator[str]:
        """Every contact id of the location (for the deletion sweep): one search per 500."""
        for contact in self.hook.search_contacts(
            sort=[{"field": "dateAdded", "direction": "asc"}], page_limit=SEARCH_PAGE_LIMIT
        ):
            if contact.get("id"):
                yield str(contact["id"])

"""What the transfer operators share: the window, the extraction's settings, the report, the lineage."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from airflow_provider_contacts.coercion import to_float, to_int
from airflow_provider_contacts.engines.extract import ContactsExtractor, check_settings
from airflow_provider_contacts.engines.records import CHILD_ENTITIES
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.base import BaseContactsOperator
from airflow_provider_contacts.windows import run_window

if TYPE_CHECKING:
    from airflow.sdk import Context


class BaseContactsTransferOperator(BaseContactsOperator):
    """
    Base of the transfers: extract the contacts changed in the run's window, with their related records.

    :param since: start of the window instead of the data interval's start (a manual run or a backfill:
        a manual run has no data interval). ISO-8601. Templated. A manual run without it starts where the
        target stands (the SQL table's newest ``date_updated``) or where the last successful run stopped,
        minus ``lookback_seconds``; with neither it is an error.
    :param until: end of the window instead of the data interval's end (default: the interval's end, or
        now). Templated.
    :param lookback_seconds: start the window this much earlier than the data interval: the API's search is
        eventually consistent, so a change made just before an interval ended may show only later. Records
        already merged come back unchanged and are not rewritten; only the overlap's contacts are read again.
    :param include: related records that land in their own tables: any of ``tasks``, ``notes``,
        ``appointments``. Tasks cost about one request per 100; notes and appointments one request per
        changed contact each.
    :param custom_fields: ``json``: one JSON column ``custom_fields`` of ``{key: value}``; ``columns``: one
        column per custom field, ``cf_<key>``, added when a new field appears.
    :param max_bad_ratio: the task fails when more than this share of the contacts could not be written
        (they are reported by id and field; the others land either way).
    :param max_workers: concurrent requests for notes and appointments.
    :param progress_interval: seconds between two progress lines.
    :param contacts_conn_id: the Contacts connection.
    """

    template_fields: Sequence[str] = ("since", "until")
    ui_color = "#d6ecd2"

    def __init__(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        lookback_seconds: float = 0.0,
        include: Sequence[str] = CHILD_ENTITIES,
        custom_fields: str = "json",
        max_bad_ratio: float = 0.05,
        max_workers: int = 4,
        progress_interval: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = f"task {kwargs.get('task_id')!r}"
        max_workers = to_int(max_workers, "max_workers", owner=owner, minimum=1)
        check_settings(include, custom_fields, max_workers)
        lookback_seconds = to_float(lookback_seconds, "lookback_seconds", owner=owner, minimum=0)
        max_bad_ratio = to_float(max_bad_ratio, "max_bad_ratio", owner=owner, minimum=0)
        if max_bad_ratio > 1.0:
            raise ContactsConfigError(f"max_bad_ratio must be between 0 and 1, got {max_bad_ratio}")
        self.since = since
        self.until = until
        self.lookback_seconds = lookback_seconds
        self.include = tuple(include)
        self.custom_fields = custom_fields
        self.max_bad_ratio = max_bad_ratio
        self.max_workers = max_workers
        self.progress_interval = progress_interval
        self.report: dict[str, Any] | None = None
        self.table_specs: dict[str, Any] = {}

    def extractor(
        self, context: Context, previous_end: Callable[[], datetime | None] | None = None
    ) -> ContactsExtractor:
        """
        The extraction of this run's window (:func:`~airflow_provider_contacts.windows.run_window`).

        :param context: the task's context.
        :param previous_end: where the target stands (for a manual run without ``since``), when it knows.
        """
        window = run_window(
            context,
            since=self.since,
            until=self.until,
            lookback=timedelta(seconds=self.lookback_seconds),
            previous_end=previous_end,
            default_lookback=None,
        )
        assert window.end is not None  # a catching-up window always ends
        self.log.info("window: dateUpdated from %s to %s", window.start.isoformat(), window.end.isoformat())
        return ContactsExtractor(
            self.hook,
            window,
            include=self.include,
            custom_fields=self.custom_fields,
            max_workers=self.max_workers,
            progress_interval=self.progress_interval,
        )

    def finish(self, extractor: ContactsExtractor, started: float, **more: Any) -> dict[str, Any]:
        """Build the report (for XCom and lineage); fail when too many contacts were bad."""
        seconds = time.monotonic() - started
        self.table_specs = extractor.known_specs
        rows = sum(extractor.counts.values())
        bad_contacts = extractor.bad_counts["contacts"]
        contacts = extractor.counts.get("contacts", 0) + bad_contacts
        self.report = {
            **self.hook.report_origin(),
            "window": extractor.window.as_dict(),
            "extracted": dict(extractor.counts),
            **more,
            "bad_record_count": extractor.bad_counts.total(),
            "bad_records": extractor.errors,
            "api_calls": extractor.api_calls,
            "seconds": round(seconds, 3),
            "rows_per_second": round(rows / seconds, 1) if seconds > 0 else 0.0,
        }
        if contacts and bad_contacts / contacts > self.max_bad_ratio:
            raise AirflowException(
                f"{bad_contacts} of {contacts} contacts could not be written "
                f"(> max_bad_ratio {self.max_bad_ratio:.1%}); the others landed. First: "
                + "; ".join(
                    f"{e['entity']} {e['id']}: {e['field']}: {e['error']}" for e in extractor.errors[:5]
                )
            )
        return self.report

    def source_datasets(self) -> list[Any]:
        """The HighLevel datasets a run reads (OpenLineage)."""
        from airflow_provider_contacts.lineage import highlevel_datasets

        return highlevel_datasets(self.hook.location_id, ["contacts", *self.include])

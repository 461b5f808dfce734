"""ContactsToSqlOperator: contacts changed in a window, merged into tables of any common-sql connection."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.coercion import to_bool
from airflow_provider_contacts.engines.records import MAPPING_ENTITY
from airflow_provider_contacts.engines.sql import MergeCounts, SqlMerger
from airflow_provider_contacts.hooks.search import count_contacts
from airflow_provider_contacts.hooks.sql import get_sql_hook
from airflow_provider_contacts.transfers.base import BaseContactsTransferOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class ContactsToSqlOperator(BaseContactsTransferOperator):
    """
    Merge the contacts changed in the run's window into a SQL table, and their tasks, notes and
    appointments into their own tables (PostgreSQL, MySQL/MariaDB, SQLite).

    Tables are created when missing, rows merged by id with the target's own upsert, unchanged rows not
    rewritten (a rerun of a window changes nothing), and the related records a changed contact no longer has
    marked ``_deleted``. With ``sweep_deleted`` the run also lists every contact id of the location (one
    search per 500) and marks ``_deleted`` the contacts HighLevel no longer has; run it daily, say.

    Returns (to XCom) ``{"window", "extracted", "merged": {entity: {"inserted", "updated", "unchanged",
    "deleted"}}, "tables", "bad_record_count", "bad_records", "api_calls", "seconds", "rows_per_second"}``.

    :param sql_conn_id: the target, any common-sql connection.
    :param table: the contacts table (``schema.table`` allowed); the related records go to ``<table>_tasks``,
        ``<table>_notes`` and ``<table>_appointments``, the custom fields' mapping (field id, key and name ->
        column and JSON key) to ``<table>_custom_fields``. A ``table`` for which one of these names, or of
        their indexes, would be longer than the target takes (PostgreSQL 63 bytes, MySQL/MariaDB 64
        characters, SQLite held to 63 bytes) is refused before any statement runs.
    :param sweep_deleted: also mark deleted the contacts HighLevel no longer has. Templated.
    :param default_sqlite_path: a SQLite file to use when ``sql_conn_id`` is not defined (local runs);
        None fails instead.
    """

    template_fields: Sequence[str] = (*BaseContactsTransferOperator.template_fields, "table", "sweep_deleted")

    def __init__(
        self,
        *,
        sql_conn_id: str,
        table: str = "contacts",
        sweep_deleted: bool | str = False,
        default_sqlite_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql_conn_id = sql_conn_id
        self.default_sqlite_path = default_sqlite_path
        self.table = table
        self.sweep_deleted = sweep_deleted

    def tables(self) -> dict[str, str]:
        """Entity -> table name."""
        return {
            "contacts": self.table,
            **{entity: f"{self.table}_{entity}" for entity in (*self.include, MAPPING_ENTITY)},
        }

    def sql_hook(self) -> Any:
        """The target's ``DbApiHook``."""
        return get_sql_hook(self.sql_conn_id, default_sqlite_path=self.default_sqlite_path)

    def execute(self, context: Context) -> dict[str, Any]:
        started = time.monotonic()
        sweep = to_bool(self.sweep_deleted, "sweep_deleted", owner=f"task {self.task_id!r}")
        merger = SqlMerger(self.sql_hook(), self.tables())
        # A manual run without since continues from where the table stands, as a sync from its audit row.
        extractor = self.extractor(context, previous_end=lambda: merger.newest("contacts"))
        merged = {entity: MergeCounts() for entity in self.tables()}
        try:
            for batch in extractor.batches():
                if not merger.specs:
                    merger.prepare(extractor.specs)
                for entity, rows in batch.rows.items():
                    merged[entity].add(merger.merge(entity, rows))
                    if entity in batch.seen:
                        gone = merger.mark_gone(entity, batch.contact_ids, batch.seen[entity])
                        merged[entity].deleted += gone
            if sweep:
                if not merger.specs:
                    merger.prepare(extractor.specs)
                expected = count_contacts(self.hook)
                merged["contacts"].deleted += merger.sweep(extractor.all_contact_ids(), expected)
        finally:
            merger.close()
        report = self.finish(
            extractor,
            started,
            merged={entity: vars(counts) for entity, counts in merged.items()},
            tables=self.tables(),
            swept=sweep,
        )
        self.log.info(
            "merged into %s: %s",
            self.table,
            "; ".join(
                f"{entity} {c.inserted} new, {c.updated} changed, {c.unchanged} unchanged, {c.deleted} deleted"
                for entity, c in merged.items()
            ),
        )
        return report

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs: the HighLevel datasets read; outputs: the tables written, with schema and row counts."""
        from airflow_provider_contacts.engines.sql import dialect_of
        from airflow_provider_contacts.lineage import lineage, output, sql_dataset_naming

        hook = self.sql_hook()
        report = self.report or {}
        merged = report.get("merged", {})
        specs = self.table_specs
        types = dialect_of(hook).types
        outputs = []
        for entity, table in self.tables().items():
            namespace, name = sql_dataset_naming(hook, table)
            counts = merged.get(entity)
            rows = counts["inserted"] + counts["updated"] if counts else None
            outputs.append(output(namespace, name, specs.get(entity), rows, types))
        return lineage(self.source_datasets(), outputs)

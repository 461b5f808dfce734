"""
The reporting tables, in SQL that SQLite and PostgreSQL (and most others) both accept.

A ``TableSpec`` names its columns and their portable types; ``ensure_table`` creates the table when missing,
``append_row`` inserts one row through ``DbApiHook.insert_rows`` (so the driver's own placeholder is used),
and ``read_rows`` returns the newest rows, oldest first, as dicts. Timestamps are stored as UTC in a
``TIMESTAMP`` column and come back as aware ``datetime`` objects whatever the driver returns.

Two tables: ``contacts_metrics`` (one row per dashboard run) and ``contacts_sync_audit`` (one row per sync
run: counts, failures, duration).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_contacts.coercion import to_datetime

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")

TIMESTAMP = "TIMESTAMP"
INTEGER = "INTEGER"
REAL = "DOUBLE PRECISION"
TEXT = "TEXT"
SHORT_TEXT = "VARCHAR(250)"


@dataclass(frozen=True)
class TableSpec:
    """
    A reporting table: its default name, its columns and the column that orders its rows.

    :param name: the default table name (``schema.table`` is accepted where the database has schemas).
    :param columns: ``(column, portable SQL type)`` pairs, in table order.
    :param order_by: the timestamp column that orders rows in time.
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    order_by: str

    @property
    def column_names(self) -> list[str]:
        """The column names, in table order."""
        return [name for name, _ in self.columns]

    @property
    def timestamp_columns(self) -> set[str]:
        """The columns that hold timestamps."""
        return {name for name, sql_type in self.columns if sql_type == TIMESTAMP}


METRICS_TABLE = TableSpec(
    name="contacts_metrics",
    columns=(
        ("dag_id", SHORT_TEXT),
        ("run_id", SHORT_TEXT),
        ("computed_at", TIMESTAMP),
        ("interval_start", TIMESTAMP),
        ("interval_end", TIMESTAMP),
        ("location_id", SHORT_TEXT),
        ("contacts_total", INTEGER),
        ("contacts_new", INTEGER),
        ("contacts_updated", INTEGER),
        ("tasks_total", INTEGER),
        ("tasks_open", INTEGER),
        ("tasks_overdue", INTEGER),
        ("tasks_completed", INTEGER),
        ("task_contacts_scanned", INTEGER),
        ("tag_contacts_scanned", INTEGER),
        ("top_tags", TEXT),
        ("last_sync_at", TIMESTAMP),
        ("api_requests", INTEGER),
    ),
    order_by="computed_at",
)

AUDIT_TABLE = TableSpec(
    name="contacts_sync_audit",
    columns=(
        ("dag_id", SHORT_TEXT),
        ("run_id", SHORT_TEXT),
        ("interval_start", TIMESTAMP),
        ("interval_end", TIMESTAMP),
        ("started_at", TIMESTAMP),
        ("finished_at", TIMESTAMP),
        ("duration_s", REAL),
        ("records_in", INTEGER),
        ("created", INTEGER),
        ("updated", INTEGER),
        ("failed", INTEGER),
        ("converted", INTEGER),
        ("tasks_created", INTEGER),
        ("pulled_back", INTEGER),
        ("status", SHORT_TEXT),
        ("details", TEXT),
    ),
    order_by="finished_at",
)

#: The audit of an agency's sync: one row per run and location (``contacts_agency_sync``).
AGENCY_AUDIT_TABLE = TableSpec(
    name="contacts_agency_sync_audit",
    columns=(*AUDIT_TABLE.columns[:2], ("location_id", SHORT_TEXT), *AUDIT_TABLE.columns[2:]),
    order_by="finished_at",
)


def check_table_name(table: str) -> str:
    """
    Return ``table`` when it is a plain (optionally schema-qualified) identifier; it is put into SQL text.

    :param table: ``name`` or ``schema.name``.
    :raises ValueError: anything else, so no SQL can be injected through a table name.
    """
    if not _IDENTIFIER.match(table):
        raise ValueError(f"Not a plain table name: {table!r}")
    return table


def create_table_sql(spec: TableSpec, table: str | None = None) -> str:
    """
    Return the portable ``CREATE TABLE IF NOT EXISTS`` statement of a table.

    :param spec: the table's specification.
    :param table: the table name; ``spec.name`` by default.
    """
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in spec.columns)
    return f"CREATE TABLE IF NOT EXISTS {check_table_name(table or spec.name)} ({columns})"


def ensure_table(hook: DbApiHook, spec: TableSpec, table: str | None = None) -> str:
    """
    Create the table when it does not exist yet; return its name.

    :param hook: the reporting database's hook.
    :param spec: the table's specification.
    :param table: the table name; ``spec.name`` by default.
    """
    hook.run(create_table_sql(spec, table))
    return table or spec.name


def to_db_value(value: Any) -> Any:
    """
    Return a value as the reporting tables store it: datetimes as naive UTC ISO text, the rest as is.

    :param value: a column value.
    """
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    return value


def from_db_timestamp(value: Any) -> datetime | None:
    """
    Return a stored timestamp (text from SQLite, ``datetime`` from PostgreSQL) as an aware UTC datetime.

    :param value: the column value, or None.
    """
    return to_datetime(value, "timestamp")


def append_row(
    hook: DbApiHook,
    spec: TableSpec,
    row: Mapping[str, Any],
    table: str | None = None,
    *,
    create: bool = True,
) -> None:
    """
    Insert one row, creating the table first if missing.

    :param hook: the reporting database's hook.
    :param spec: the table's specification.
    :param row: column values; missing columns are NULL, unknown keys are an error.
    :param table: the table name; ``spec.name`` by default.
    :param create: run ``CREATE TABLE IF NOT EXISTS`` first; False when the caller made sure of it.
    :raises ValueError: ``row`` has keys that are not columns of the table.
    """
    unknown = set(row) - set(spec.column_names)
    if unknown:
        raise ValueError(f"Not columns of {spec.name}: {sorted(unknown)}")
    name = ensure_table(hook, spec, table) if create else check_table_name(table or spec.name)
    values = tuple(to_db_value(row.get(column)) for column in spec.column_names)
    hook.insert_rows(name, [values], target_fields=spec.column_names)


def read_rows(
    hook: DbApiHook,
    spec: TableSpec,
    table: str | None = None,
    limit: int | None = None,
    create: bool = True,
) -> list[dict[str, Any]]:
    """
    Return the table's newest rows, oldest first, as dicts with timestamps as aware UTC datetimes.

    :param hook: the reporting database's hook.
    :param spec: the table's specification.
    :param table: the table name; ``spec.name`` by default.
    :param limit: at most this many of the newest rows; all of them when None.
    :param create: create the table when it is missing; False for read-only callers (a missing table is then
        the database's error).
    """
    name = ensure_table(hook, spec, table) if create else check_table_name(table or spec.name)
    sql = f"SELECT {', '.join(spec.column_names)} FROM {name} ORDER BY {spec.order_by} DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    records: Sequence[Sequence[Any]] = hook.get_records(sql) or []
    timestamps = spec.timestamp_columns
    rows = [
        {
            column: from_db_timestamp(value) if column in timestamps else value
            for column, value in zip(spec.column_names, record, strict=True)
        }
        for record in records
    ]
    rows.reverse()
    return rows

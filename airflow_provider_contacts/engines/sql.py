"""
Merge extracted rows into SQL tables through any common-sql hook, in the target's own dialect.

- **Create**: a missing table is created (``id`` as primary key, kinds mapped onto the dialect's types);
  a missing column (a new custom field) is added.
- **Merge by id**: for each batch, one ``SELECT id, _hash, _deleted`` over the batch's ids tells new,
  changed and unchanged rows apart; only new and changed rows are written, with one ``executemany`` of
  ``INSERT ... ON CONFLICT (id) DO UPDATE`` (PostgreSQL, SQLite) or ``INSERT ... ON DUPLICATE KEY UPDATE``
  (MySQL, MariaDB). So a rerun of a window writes nothing and ``_loaded_at`` says when a row last changed.
- **Gone related records**: the tasks, notes and appointments a changed contact no longer has are marked
  ``_deleted``.
- **Deletion sweep**: every id the API still has goes into a scratch table; contacts of the table missing
  from it are marked ``_deleted`` with one ``UPDATE``; memory stays flat for any number of contacts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import islice
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.coercion import to_datetime
from airflow_provider_contacts.engines.records import (
    BOOL,
    DELETED,
    DELETED_AT,
    HASH,
    JSON,
    KEY,
    NUMBER,
    TEXT,
    TIMESTAMP,
    Column,
    TableSpec,
)
from airflow_provider_contacts.exceptions import ContactsConfigError

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook

#: Ids per ``IN (...)`` and per ``executemany`` in the sweep.
SWEEP_CHUNK = 1000


@dataclass(frozen=True)
class Dialect:
    """
    What differs between the SQL targets.

    :param name: ``postgresql``, ``mysql`` or ``sqlite``.
    :param types: column kind -> SQL type.
    :param quote: the identifier quote character.
    """

    name: str
    types: dict[str, str]
    quote: str

    def ident(self, name: str) -> str:
        """Quote an identifier (``schema.table`` is quoted part by part)."""
        q = self.quote
        return ".".join(f"{q}{part.replace(q, q + q)}{q}" for part in name.split("."))

    def value(self, kind: str, value: Any) -> Any:
        """A row value as this dialect's driver takes it."""
        if value is None:
            return None
        if kind == TIMESTAMP:
            if self.name == "sqlite":
                return value.isoformat(timespec="milliseconds")
            if self.name == "mysql":  # DATETIME has no time zone: naive UTC
                return value.astimezone(timezone.utc).replace(tzinfo=None)
        if kind == BOOL and self.name == "sqlite":
            return int(value)
        return value

    def upsert(self, table: str, columns: Sequence[str], placeholder: str) -> str:
        """The statement that inserts a row or replaces the one with its id."""
        names = ", ".join(self.ident(c) for c in columns)
        values = ", ".join([placeholder] * len(columns))
        updates = [c for c in columns if c != "id"]
        if self.name == "mysql":
            sets = ", ".join(f"{self.ident(c)} = VALUES({self.ident(c)})" for c in updates)
            return (
                f"INSERT INTO {self.ident(table)} ({names}) VALUES ({values}) ON DUPLICATE KEY UPDATE {sets}"
            )
        sets = ", ".join(f"{self.ident(c)} = excluded.{self.ident(c)}" for c in updates)
        return f"INSERT INTO {self.ident(table)} ({names}) VALUES ({values}) ON CONFLICT (id) DO UPDATE SET {sets}"


DIALECTS = {
    "postgresql": Dialect(
        "postgresql",
        {
            KEY: "VARCHAR(64)",
            TEXT: "TEXT",
            BOOL: "BOOLEAN",
            TIMESTAMP: "TIMESTAMP WITH TIME ZONE",
            JSON: "JSONB",
            NUMBER: "DOUBLE PRECISION",
        },
        '"',
    ),
    "mysql": Dialect(
        "mysql",
        {
            KEY: "VARCHAR(64)",
            TEXT: "TEXT",
            BOOL: "BOOLEAN",
            TIMESTAMP: "DATETIME(3)",
            JSON: "JSON",
            NUMBER: "DOUBLE",
        },
        "`",
    ),
    "sqlite": Dialect(
        "sqlite",
        {KEY: "TEXT", TEXT: "TEXT", BOOL: "INTEGER", TIMESTAMP: "TEXT", JSON: "TEXT", NUMBER: "REAL"},
        '"',
    ),
}


def dialect_of(hook: DbApiHook) -> Dialect:
    """
    The dialect of a common-sql hook's connection.

    :param hook: a ``DbApiHook`` (PostgreSQL, MySQL/MariaDB or SQLite).
    """
    name = str(hook.dialect_name or "").lower()
    for prefix, key in (
        ("postgres", "postgresql"),
        ("mysql", "mysql"),
        ("mariadb", "mysql"),
        ("sqlite", "sqlite"),
    ):
        if name.startswith(prefix):
            return DIALECTS[key]
    conn_id = getattr(hook, getattr(hook, "conn_name_attr", ""), None)
    raise ContactsConfigError(
        f"connection {conn_id!r}: dialect {name!r} is not supported; use PostgreSQL, MySQL/MariaDB or SQLite"
    )


@dataclass
class MergeCounts:
    """What a merge did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def add(self, other: MergeCounts) -> None:
        """Add another merge's counts."""
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class SqlMerger:
    """
    Keeps the warehouse tables of a common-sql connection: create, merge by id, mark deleted.

    One database connection for the whole run; every batch is committed on its own, so a run that stops
    halfway keeps what it merged, and its retry skips those rows as unchanged.

    :param hook: the target's ``DbApiHook``.
    :param tables: entity -> table name (``schema.table`` allowed).
    """

    def __init__(self, hook: DbApiHook, tables: dict[str, str]) -> None:
        self.hook = hook
        self.dialect = dialect_of(hook)
        self.tables = tables
        self.specs: dict[str, TableSpec] = {}
        self.placeholder = "?" if self.dialect.name == "sqlite" else "%s"
        self._conn: Any = None

    @property
    def conn(self) -> Any:
        """The run's database connection (opened on first use)."""
        if self._conn is None:
            self._conn = self.hook.get_conn()
        return self._conn

    def close(self) -> None:
        """Close the database connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        cursor = self.conn.cursor()
        cursor.execute(sql, tuple(parameters))
        return cursor

    def _existing_columns(self, table: str) -> set[str] | None:
        try:
            cursor = self._execute(f"SELECT * FROM {self.dialect.ident(table)} WHERE 1 = 0")
        except Exception:
            self.conn.rollback()
            return None
        names = {str(d[0]) for d in cursor.description or ()}
        cursor.fetchall()  # mysql-connector refuses to close a cursor with an unread result
        cursor.close()
        return names

    def prepare(self, specs: dict[str, TableSpec]) -> None:
        """
        Create the missing tables and add the missing columns.

        :param specs: entity -> table spec.
        """
        self.specs = specs
        for entity, spec in specs.items():
            table = self.tables[entity]
            columns = spec.all_columns()
            existing = self._existing_columns(table)
            if existing is None:
                body = ", ".join(
                    f"{self.dialect.ident(c.name)} {self.dialect.types[c.kind]}"
                    + (" NOT NULL PRIMARY KEY" if c.name == "id" else "")
                    for c in columns
                )
                self._execute(f"CREATE TABLE {self.dialect.ident(table)} ({body})")
                if "contact_id" in {c.name for c in columns}:
                    index = f"{table.rsplit('.', 1)[-1]}_contact_id"
                    self._execute(
                        f"CREATE INDEX {self.dialect.ident(index)} ON {self.dialect.ident(table)} (contact_id)"
                    )
                self.hook.log.info("created table %s", table)
            else:
                for column in columns:
                    if column.name not in existing:
                        self._execute(
                            f"ALTER TABLE {self.dialect.ident(table)} ADD COLUMN "
                            f"{self.dialect.ident(column.name)} {self.dialect.types[column.kind]}"
                        )
                        self.hook.log.info("added column %s.%s", table, column.name)
            self.conn.commit()

    def newest(self, entity: str, column: str = "date_updated") -> datetime | None:
        """
        The newest value of a timestamp column of an entity's table: where the table stands.

        :param entity: the entity (``contacts``).
        :param column: the column.
        :return: the value (UTC), or None when the table or the column is missing or the table is empty.
        """
        table = self.tables[entity]
        existing = self._existing_columns(table)
        if existing is None or column not in existing:
            return None
        cursor = self._execute(f"SELECT MAX({self.dialect.ident(column)}) FROM {self.dialect.ident(table)}")
        (value,) = cursor.fetchone()
        cursor.close()
        return to_datetime(value, column, owner=f"table {table}")

    def _select_in(
        self, select: str, column: str, values: Sequence[str], condition: str = ""
    ) -> Iterator[Any]:
        """The rows of ``select ... WHERE column IN (values) condition``, a chunk of values at a time."""
        for chunk in _chunks(values, SWEEP_CHUNK):
            marks = ", ".join([self.placeholder] * len(chunk))
            cursor = self._execute(f"{select} WHERE {column} IN ({marks}){condition}", chunk)
            yield from cursor.fetchall()
            cursor.close()

    def _known(self, table: str, ids: Sequence[str]) -> dict[str, tuple[str | None, bool]]:
        ident = self.dialect.ident
        select = f"SELECT id, {ident(HASH)}, {ident(DELETED)} FROM {ident(table)}"
        return {
            str(row_id): (digest, bool(deleted))
            for row_id, digest, deleted in self._select_in(select, "id", ids)
        }

    def merge(self, entity: str, rows: Sequence[dict[str, Any]]) -> MergeCounts:
        """
        Write the new and changed rows of one entity (one ``executemany``), skip the unchanged ones.

        :param entity: ``contacts``, ``tasks``, ``notes`` or ``appointments``.
        :param rows: its rows (from :class:`~airflow_provider_contacts.engines.records.TableSpec`).
        """
        counts = MergeCounts()
        if not rows:
            return counts
        table = self.tables[entity]
        columns: list[Column] = self.specs[entity].all_columns()
        known = self._known(table, [row["id"] for row in rows])
        changed = []
        for row in {row["id"]: row for row in rows}.values():  # the last copy of a repeated id wins
            before = known.get(row["id"])
            if before is not None and before[0] == row[HASH] and not before[1]:
                counts.unchanged += 1
                continue
            if before is None:
                counts.inserted += 1
            else:
                counts.updated += 1
            changed.append(tuple(self.dialect.value(c.kind, row.get(c.name)) for c in columns))
        if changed:
            sql = self.dialect.upsert(table, [c.name for c in columns], self.placeholder)
            cursor = self.conn.cursor()
            cursor.executemany(sql, changed)
            cursor.close()
        self.conn.commit()
        return counts

    def mark_gone(self, entity: str, contact_ids: Sequence[str], present: Iterable[str]) -> int:
        """
        Mark deleted the records of these contacts that the API no longer has.

        :param entity: ``tasks``, ``notes`` or ``appointments``.
        :param contact_ids: the contacts whose records were all read.
        :param present: the ids of the records read.
        """
        if not contact_ids:
            return 0
        table = self.dialect.ident(self.tables[entity])
        keep = set(present)
        alive = (
            f" AND ({self.dialect.ident(DELETED)} IS NULL OR {self.dialect.ident(DELETED)} = {self._false})"
        )
        rows = self._select_in(f"SELECT id FROM {table}", "contact_id", contact_ids, alive)
        gone = [str(row[0]) for row in rows if str(row[0]) not in keep]
        marked = self._mark_deleted(table, gone)
        self.conn.commit()
        return marked

    @property
    def _false(self) -> str:
        return "0" if self.dialect.name in ("sqlite", "mysql") else "FALSE"

    def _mark_deleted(self, quoted_table: str, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        now = self.dialect.value(TIMESTAMP, datetime.now(timezone.utc))
        sql = (
            f"UPDATE {quoted_table} SET {self.dialect.ident(DELETED)} = {self.placeholder}, "
            f"{self.dialect.ident(DELETED_AT)} = {self.placeholder} WHERE id = {self.placeholder}"
        )
        deleted = self.dialect.value(BOOL, True)
        cursor = self.conn.cursor()
        cursor.executemany(sql, [(deleted, now, row_id) for row_id in ids])
        cursor.close()
        return len(ids)

    def sweep(self, live_ids: Iterable[str], expected: int | None = None) -> int:
        """
        Mark deleted the contacts of the table that are not among ``live_ids`` (every id the API has).

        The ids go into a scratch table a chunk at a time, so memory stays flat; the marking is one
        ``UPDATE ... WHERE NOT EXISTS``. Nothing is marked (a warning says why) when the listing holds fewer
        ids than ``expected``.

        :param live_ids: every contact id of the location.
        :param expected: how many ids the API says it has; a shorter listing marks nothing.
        :return: how many contacts were newly marked deleted.
        """
        table = self.tables["contacts"]
        scratch = f"{table}__sweep"
        ident, p = self.dialect.ident, self.placeholder
        self._drop(scratch)
        self._execute(f"CREATE TABLE {ident(scratch)} (id {self.dialect.types[KEY]} NOT NULL PRIMARY KEY)")
        seen = 0
        try:
            for chunk in _chunks(live_ids, SWEEP_CHUNK):
                cursor = self.conn.cursor()
                cursor.executemany(f"INSERT INTO {ident(scratch)} (id) VALUES ({p})", [(i,) for i in chunk])
                cursor.close()
                seen += len(chunk)
            if expected is not None and seen < expected:
                # Contacts deleted while the ids were listed, or a listing cut short: mark nothing this time.
                self.hook.log.warning(
                    "the id listing returned %d of the %d contacts the API counted; no contact marked deleted",
                    seen,
                    expected,
                )
                return 0
            now = self.dialect.value(TIMESTAMP, datetime.now(timezone.utc))
            cursor = self._execute(
                f"UPDATE {ident(table)} SET {ident(DELETED)} = {p}, {ident(DELETED_AT)} = {p} "
                f"WHERE ({ident(DELETED)} IS NULL OR {ident(DELETED)} = {self._false}) "
                f"AND NOT EXISTS (SELECT 1 FROM {ident(scratch)} s WHERE s.id = {ident(table)}.id)",
                (self.dialect.value(BOOL, True), now),
            )
            marked = int(cursor.rowcount or 0)
            cursor.close()
            self.conn.commit()
        finally:
            self._drop(scratch)
        return marked

    def _drop(self, table: str) -> None:
        self._execute(f"DROP TABLE IF EXISTS {self.dialect.ident(table)}")
        self.conn.commit()

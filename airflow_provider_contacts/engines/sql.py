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
- **Deletion sweep**: every id the API still has goes into a temporary table of the run's own connection;
  contacts of the table missing from it are marked ``_deleted`` with one ``UPDATE``; memory stays flat for
  any number of contacts.
- **Names**: every name a run derives (child and mapping tables, indexes, custom field columns) is checked
  against the target's identifier limit before any statement runs. PostgreSQL would silently cut a longer
  name to 63 bytes, so two derived names could land on one table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import islice
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from airflow_provider_contacts.coercion import to_datetime
from airflow_provider_contacts.engines.records import (
    BOOL,
    CHILD_ENTITIES,
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
    :param label: the name errors give.
    :param max_identifier: the longest identifier the target keeps whole.
    :param unit: what ``max_identifier`` counts: ``bytes`` (UTF-8) or ``characters``.
    """

    name: str
    types: dict[str, str]
    quote: str
    label: str = ""
    max_identifier: int = 63
    unit: str = "bytes"

    def identifier_length(self, name: str) -> int:
        """The length of one identifier as this dialect counts it."""
        return len(name.encode()) if self.unit == "bytes" else len(name)

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
        "PostgreSQL",
        63,  # NAMEDATALEN - 1; longer names are cut without an error
        "bytes",
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
        "MySQL/MariaDB",
        64,
        "characters",
    ),
    "sqlite": Dialect(
        "sqlite",
        {KEY: "TEXT", TEXT: "TEXT", BOOL: "INTEGER", TIMESTAMP: "TEXT", JSON: "TEXT", NUMBER: "REAL"},
        '"',
        "SQLite (held to PostgreSQL's limit, so a DAG moves between targets)",
        63,
        "bytes",
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


#: The longest index name derived whole; PostgreSQL keeps 63 bytes, MySQL/MariaDB 64 characters.
_INDEX_NAME_BYTES = 63


def index_name(table: str) -> str:
    """
    The name of the ``contact_id`` index of a related records table (in the table's schema).

    ``<table>_contact_id`` when that fits every target; otherwise the table's name cut short plus 8 hex
    digits of its hash, so an index never limits the table's name more than the table names themselves.

    :param table: the table (``schema.table`` allowed).
    """
    short = table.rsplit(".", 1)[-1]
    whole = f"{short}_contact_id"
    if len(whole.encode()) <= _INDEX_NAME_BYTES:
        return whole
    digest = hashlib.sha256(short.encode()).hexdigest()[:8]
    suffix = f"_{digest}_cid"
    head = short.encode()[: _INDEX_NAME_BYTES - len(suffix)].decode(errors="ignore")
    return f"{head}{suffix}"


def check_identifier(dialect: Dialect, name: str, what: str, parameter: str, value: str) -> None:
    """
    Refuse an identifier the target would cut or refuse.

    :param dialect: the target's dialect.
    :param name: one identifier (no schema).
    :param what: what it names, for the error (``index``, ``table`` ...).
    :param parameter: the parameter it derives from.
    :param value: that parameter's value.
    :raises ContactsConfigError: naming the parameter and the limit.
    """
    if not name:
        raise ContactsConfigError(f"{parameter} {value!r}: the {what} name is empty")
    length = dialect.identifier_length(name)
    if length > dialect.max_identifier:
        raise ContactsConfigError(
            f"{parameter} {value!r}: the {what} name {name!r} derived from it is {length} {dialect.unit}; "
            f"{dialect.label} takes at most {dialect.max_identifier} {dialect.unit} per name. "
            f"Choose a shorter {parameter}"
        )


def check_tables(dialect: Dialect, tables: dict[str, str], parameter: str = "table") -> None:
    """
    Check every table and index name a transfer derives, before any statement runs.

    :param dialect: the target's dialect.
    :param tables: entity -> table name (``schema.table`` allowed).
    :param parameter: the operator parameter the names derive from.
    :raises ContactsConfigError: for a name over the limit, an empty part, or two entities on one table.
    """
    value = tables.get("contacts", next(iter(tables.values()), ""))
    if not all(isinstance(t, str) for t in tables.values()):
        raise ContactsConfigError(f"{parameter} must be a string, got {value!r}")
    for entity, table in tables.items():
        parts = table.split(".")
        if len(parts) > 2:
            raise ContactsConfigError(f"{parameter} {value!r}: expected 'table' or 'schema.table'")
        for part in parts:
            check_identifier(dialect, part, f"{entity} table", parameter, value)
        if entity in CHILD_ENTITIES:
            check_identifier(dialect, index_name(table), f"{entity} index", parameter, value)
    folded = [t.lower() for t in tables.values()]
    if len(set(folded)) < len(folded):
        raise ContactsConfigError(
            f"{parameter} {value!r}: two of the transfer's tables get one name: {tables}"
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
        check_tables(self.dialect, tables)
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
        for entity, spec in specs.items():
            for column in spec.all_columns():
                check_identifier(self.dialect, column.name, f"{entity} column", "table", self.tables[entity])
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
                    self._execute(
                        f"CREATE INDEX {self.dialect.ident(index_name(table))} "
                        f"ON {self.dialect.ident(table)} (contact_id)"
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

        The ids go into a temporary table a chunk at a time, so memory stays flat; the marking is one
        ``UPDATE ... WHERE NOT EXISTS``. The temporary table has a new random name, lives in the run's own
        connection only (no other session sees it, and the server drops it when the connection ends) and is
        dropped as a temporary table only, so no name, however chosen, can reach a table of the database.
        Nothing is marked (a warning says why) when the listing holds fewer ids than ``expected``.

        :param live_ids: every contact id of the location.
        :param expected: how many ids the API says it has; a shorter listing marks nothing.
        :return: how many contacts were newly marked deleted.
        """
        table = self.tables["contacts"]
        ident, p = self.dialect.ident, self.placeholder
        scratch = f"contacts_sweep_{uuid4().hex}"
        self._execute(
            f"CREATE TEMPORARY TABLE {ident(scratch)} (id {self.dialect.types[KEY]} NOT NULL PRIMARY KEY)"
        )
        scratch = self._temporary(scratch)
        seen = 0
        try:
            for chunk in _chunks(live_ids, SWEEP_CHUNK):
                cursor = self.conn.cursor()
                cursor.executemany(f"INSERT INTO {scratch} (id) VALUES ({p})", [(i,) for i in chunk])
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
                f"AND NOT EXISTS (SELECT 1 FROM {scratch} s WHERE s.id = {ident(table)}.id)",
                (self.dialect.value(BOOL, True), now),
            )
            marked = int(cursor.rowcount or 0)
            cursor.close()
            self.conn.commit()
        finally:
            self.conn.rollback()  # a failed statement leaves PostgreSQL's transaction unusable until then
            drop = "DROP TEMPORARY TABLE" if self.dialect.name == "mysql" else "DROP TABLE"
            self._execute(f"{drop} IF EXISTS {scratch}")
            self.conn.commit()
        return marked

    def _temporary(self, name: str) -> str:
        """A temporary table's name as only temporary tables answer to it (quoted)."""
        schema = {"postgresql": "pg_temp", "sqlite": "temp"}.get(self.dialect.name)
        return self.dialect.ident(f"{schema}.{name}" if schema else name)

"""SQLite state of the sandbox: contacts, their tasks/notes/appointments/memberships, custom fields, tokens.

One connection, used only from the server's event loop thread (no lock needed), WAL for a file database.
A contact is kept as its JSON document plus the indexed columns that search, sort and lookups use.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from .clock import now_ms, parse_time
from .search import CompiledSearch

_CONTACT_COLUMNS = (
    "id, location_id, email, phone, first_name_lower, last_name_lower, full_name_lower, date_added, "
    "date_updated, business_id, source, assigned_to, tags, cf, search_text, doc"
)
_CONTACT_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    id TEXT PRIMARY KEY, location_id TEXT NOT NULL, email TEXT, phone TEXT, first_name_lower TEXT,
    last_name_lower TEXT, full_name_lower TEXT, date_added INTEGER NOT NULL, date_updated INTEGER NOT NULL,
    business_id TEXT, source TEXT, assigned_to TEXT, tags TEXT, cf TEXT, search_text TEXT, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {name}_added ON {name} (location_id, date_added, id);
CREATE INDEX IF NOT EXISTS {name}_updated ON {name} (location_id, date_updated, id);
CREATE INDEX IF NOT EXISTS {name}_email ON {name} (location_id, email);
CREATE INDEX IF NOT EXISTS {name}_phone ON {name} (location_id, phone);
CREATE INDEX IF NOT EXISTS {name}_business ON {name} (location_id, business_id);
"""
_SCHEMA = (
    _CONTACT_TABLE.format(name="contacts")
    + _CONTACT_TABLE.format(name="contacts_search")
    + """
CREATE TABLE IF NOT EXISTS children (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, contact_id TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS children_contact ON children (contact_id, kind);
CREATE TABLE IF NOT EXISTS custom_fields (id TEXT PRIMARY KEY, location_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, kind TEXT NOT NULL, doc TEXT NOT NULL);
"""
)


def contact_row(doc: dict[str, Any]) -> tuple[Any, ...]:
    """
    Return the row of a contact document, in ``_CONTACT_COLUMNS`` order.

    :param doc: the contact as the API returns it.
    """
    cf = {f["id"]: f.get("value") for f in doc.get("customFields") or []}
    text = " ".join(
        str(doc.get(k) or "")
        for k in ("fullNameLowerCase", "email", "phone", "companyName", "city", "source")
    ).lower()
    return (
        doc["id"],
        doc["locationId"],
        (doc.get("email") or None),
        (doc.get("phone") or None),
        doc.get("firstNameLowerCase"),
        doc.get("lastNameLowerCase"),
        doc.get("fullNameLowerCase"),
        parse_time(doc["dateAdded"]),
        parse_time(doc["dateUpdated"]),
        doc.get("businessId"),
        doc.get("source"),
        doc.get("assignedTo"),
        json.dumps(doc.get("tags") or []),
        json.dumps(cf),
        text,
        json.dumps(doc, separators=(",", ":")),
    )


def _doc(text: str) -> dict[str, Any]:
    return json.loads(text)


class Store:
    """
    The sandbox's database.

    :param path: SQLite file, or None for memory.
    :param search_lag_ms: how long a write stays invisible to search.
    """

    def __init__(self, path: str | None, search_lag_ms: float = 0.0) -> None:
        self.db = sqlite3.connect(path or ":memory:", isolation_level=None, check_same_thread=False)
        if path:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.search_lag_ms = search_lag_ms
        self._pending: deque[tuple[int, str]] = deque()
        if search_lag_ms > 0:
            self.db.execute("DELETE FROM contacts_search")
            self.db.execute(f"INSERT INTO contacts_search SELECT {_CONTACT_COLUMNS} FROM contacts")

    # -- contacts ---------------------------------------------------------------------------------
    def contact_count(self) -> int:
        """Return how many contacts exist (all locations)."""
        return int(self.db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0])

    def get_contact(self, contact_id: str) -> dict[str, Any] | None:
        """
        Return a contact document or None.

        :param contact_id: the id.
        """
        row = self.db.execute("SELECT doc FROM contacts WHERE id = ?", (contact_id,)).fetchone()
        return _doc(row[0]) if row else None

    def put_contacts(self, docs: Iterable[dict[str, Any]]) -> None:
        """
        Insert or replace contacts in one transaction.

        :param docs: contact documents.
        """
        placeholders = ",".join("?" * 16)
        rows = [contact_row(doc) for doc in docs]
        with self._transaction():
            self.db.executemany(f"INSERT OR REPLACE INTO contacts VALUES ({placeholders})", rows)
        self._touched([row[0] for row in rows])

    def delete_contact(self, contact_id: str) -> None:
        """
        Delete a contact and everything attached to it.

        :param contact_id: the id.
        """
        with self._transaction():
            self.db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))
            self.db.execute("DELETE FROM children WHERE contact_id = ?", (contact_id,))
        self._touched([contact_id])

    def find_by(self, location_id: str, column: str, value: str) -> dict[str, Any] | None:
        """
        Return the oldest contact of a location whose ``email`` or ``phone`` equals a value.

        :param location_id: the location.
        :param column: ``email`` or ``phone``.
        :param value: the stored (normalised) value.
        """
        if column not in ("email", "phone"):
            raise ValueError(column)
        # INDEXED BY: for the ORDER BY, SQLite's planner otherwise walks the location's whole date index and
        # every upsert reads every contact of its location (a benchmark's server slowed down as it filled).
        row = self.db.execute(
            f"SELECT doc FROM contacts INDEXED BY contacts_{column} WHERE location_id = ? AND {column} = ? "
            "ORDER BY date_added, id LIMIT 1",
            (location_id, value),
        ).fetchone()
        return _doc(row[0]) if row else None

    def contacts_page(
        self, where: str, params: list[Any], order: str, limit: int, offset: int = 0
    ) -> list[dict[str, Any]]:
        """
        Return contact documents of ``contacts`` matching a WHERE clause (alias ``c``).

        :param where: the condition.
        :param params: its parameters.
        :param order: ORDER BY clause.
        :param limit: maximum rows.
        :param offset: rows to skip.
        """
        sql = f"SELECT c.doc FROM contacts AS c WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
        return [_doc(r[0]) for r in self.db.execute(sql, [*params, limit, offset])]

    def count(self, where: str, params: list[Any], table: str = "contacts") -> int:
        """
        Count contacts matching a WHERE clause (alias ``c``).

        :param where: the condition.
        :param params: its parameters.
        :param table: ``contacts`` or the lagging ``contacts_search``.
        """
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table} AS c WHERE {where}", params).fetchone()[0])

    def search(self, compiled: CompiledSearch) -> tuple[list[tuple[dict[str, Any], list[Any]]], int]:
        """
        Run a compiled search on the (possibly lagging) search index.

        :param compiled: the query.
        :return: (list of (contact, its sort values ending with the id), total matches).
        """
        table = self._search_table()
        where, params = compiled.where, list(compiled.params)
        total = self.count(where, params, table)
        if compiled.cursor:
            where = f"{where} AND {compiled.cursor[0]}"
            params += compiled.cursor[1]
        sql = (
            f"SELECT c.doc, {', '.join(compiled.sort_exprs)} FROM {table} AS c WHERE {where} "
            f"ORDER BY {compiled.order} LIMIT ? OFFSET ?"
        )
        rows = self.db.execute(sql, [*params, compiled.limit, compiled.offset]).fetchall()
        return [(_doc(r[0]), list(r[1:])) for r in rows], total

    def iter_contacts(self, location_id: str) -> Iterator[dict[str, Any]]:
        """
        Yield every contact of a location, oldest first.

        :param location_id: the location.
        """
        sql = "SELECT doc FROM contacts WHERE location_id = ? ORDER BY date_added, id"
        for row in self.db.execute(sql, (location_id,)):
            yield _doc(row[0])

    def _search_table(self) -> str:
        if self.search_lag_ms <= 0:
            return "contacts"
        due = now_ms()
        with self._transaction():
            while self._pending and self._pending[0][0] <= due:
                _, contact_id = self._pending.popleft()
                self.db.execute("DELETE FROM contacts_search WHERE id = ?", (contact_id,))
                self.db.execute(
                    f"INSERT INTO contacts_search SELECT {_CONTACT_COLUMNS} FROM contacts WHERE id = ?",
                    (contact_id,),
                )
        return "contacts_search"

    def resync_search(self) -> None:
        """Make the search index equal to the contacts now (after seeding)."""
        if self.search_lag_ms > 0:
            self._pending.clear()
            with self._transaction():
                self.db.execute("DELETE FROM contacts_search")
                self.db.execute(f"INSERT INTO contacts_search SELECT {_CONTACT_COLUMNS} FROM contacts")

    def _touched(self, ids: list[str]) -> None:
        if self.search_lag_ms > 0:
            due = now_ms() + int(self.search_lag_ms)
            self._pending.extend((due, i) for i in ids)

    def _transaction(self) -> sqlite3.Connection:
        return _Transaction(self.db)  # type: ignore[return-value]

    # -- tasks, notes, appointments, campaign and workflow memberships ----------------------------------
    def children(self, kind: str, contact_id: str) -> list[dict[str, Any]]:
        """
        Return the objects of one kind attached to a contact, oldest first.

        :param kind: ``task``, ``note``, ``event``, ``campaign`` or ``workflow``.
        :param contact_id: the contact.
        """
        sql = "SELECT doc FROM children WHERE contact_id = ? AND kind = ? ORDER BY rowid"
        return [_doc(r[0]) for r in self.db.execute(sql, (contact_id, kind))]

    def get_child(self, kind: str, child_id: str) -> dict[str, Any] | None:
        """
        Return one attached object or None.

        :param kind: its kind.
        :param child_id: its id.
        """
        row = self.db.execute(
            "SELECT doc FROM children WHERE id = ? AND kind = ?", (child_id, kind)
        ).fetchone()
        return _doc(row[0]) if row else None

    def put_children(self, kind: str, docs: Iterable[dict[str, Any]]) -> None:
        """
        Insert or replace attached objects (each has ``id`` and ``contactId``) in one transaction.

        :param kind: their kind.
        :param docs: the objects.
        """
        rows = ((d["id"], kind, d["contactId"], json.dumps(d, separators=(",", ":"))) for d in docs)
        with self._transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO children (id, kind, contact_id, doc) VALUES (?, ?, ?, ?)", rows
            )

    def delete_children(self, kind: str, contact_id: str, child_id: str | None = None) -> int:
        """
        Delete one attached object, or all of a kind for a contact; return how many went.

        :param kind: their kind.
        :param contact_id: the contact.
        :param child_id: one object's id, or None for all.
        """
        if child_id is None:
            cur = self.db.execute(
                "DELETE FROM children WHERE contact_id = ? AND kind = ?", (contact_id, kind)
            )
        else:
            cur = self.db.execute(
                "DELETE FROM children WHERE id = ? AND kind = ? AND contact_id = ?",
                (child_id, kind, contact_id),
            )
        return cur.rowcount

    # -- custom field definitions and OAuth tokens --------------------------------------------------
    def custom_fields(self, location_id: str) -> list[dict[str, Any]]:
        """
        Return the custom field definitions of a location.

        :param location_id: the location.
        """
        sql = "SELECT doc FROM custom_fields WHERE location_id = ? ORDER BY rowid"
        return [_doc(r[0]) for r in self.db.execute(sql, (location_id,))]

    def put_custom_fields(self, docs: Iterable[dict[str, Any]]) -> None:
        """
        Store custom field definitions.

        :param docs: definitions with ``id`` and ``locationId``.
        """
        with self._transaction():
            for d in docs:
                self.db.execute(
                    "INSERT OR REPLACE INTO custom_fields VALUES (?, ?, ?)",
                    (d["id"], d["locationId"], json.dumps(d)),
                )

    def update_custom_field(self, doc: dict[str, Any]) -> None:
        """
        Replace a custom field definition in place (its list position stays).

        :param doc: the definition, with ``id``.
        """
        with self._transaction():
            self.db.execute("UPDATE custom_fields SET doc = ? WHERE id = ?", (json.dumps(doc), doc["id"]))

    def delete_custom_field(self, field_id: str) -> int:
        """
        Delete a custom field definition; return how many were deleted (0 or 1).

        :param field_id: its id.
        """
        with self._transaction():
            return self.db.execute("DELETE FROM custom_fields WHERE id = ?", (field_id,)).rowcount

    def load_tokens(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Return every stored token as (token, kind, data)."""
        return [(t, k, _doc(d)) for t, k, d in self.db.execute("SELECT token, kind, doc FROM tokens")]

    def put_token(self, token: str, kind: str, data: dict[str, Any]) -> None:
        """
        Store or update a token.

        :param token: the token string.
        :param kind: ``access``, ``refresh`` or ``code``.
        :param data: what the server knows about it.
        """
        self.db.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?, ?)", (token, kind, json.dumps(data)))


class _Transaction:
    """``BEGIN``/``COMMIT`` (or ``ROLLBACK``) around a block, on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN")
        return self.db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")

"""
The warehouse's tables: which API field lands in which column, with which type, and the checks on the way.

One :class:`TableSpec` per table (contacts, tasks, notes, appointments) lists its columns; ``to_row`` turns
an API object into a row of plain Python values (``datetime`` in UTC, ``bool``, ``float``, ``str``, JSON
text) or raises :class:`FieldError` naming the field. Nothing is guessed: a value of the wrong type is an
error for that record, not a converted value. Every target (SQL, NDJSON, Parquet) writes these rows.

Bookkeeping columns, in every table: ``_hash`` (of the row's content, so an unchanged record is never
rewritten), ``_loaded_at`` (when the content last changed in the target), ``_deleted`` and ``_deleted_at``
(the record is gone in HighLevel).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_contacts.api_versions import CUSTOM_FIELD_TYPES
from airflow_provider_contacts.coercion import parse_time, read_number

#: Column kinds; each target maps them onto its own types.
KEY, TEXT, BOOL, TIMESTAMP, JSON, NUMBER = "key", "text", "bool", "timestamp", "json", "number"
KINDS = (KEY, TEXT, BOOL, TIMESTAMP, JSON, NUMBER)
HASH, LOADED_AT, DELETED, DELETED_AT = "_hash", "_loaded_at", "_deleted", "_deleted_at"
CUSTOM_FIELDS_COLUMN = "custom_fields"
CUSTOM_FIELD_PREFIX = "cf_"
#: Custom field data types (the API's ``dataType``) that get a column other than text.
_CUSTOM_KINDS = {
    name: NUMBER if holding == "number" else JSON
    for name, holding in CUSTOM_FIELD_TYPES.items()
    if holding in ("number", "list")
}


class FieldError(ValueError):
    """
    A record's field that cannot be written.

    :param field: the API field (``customFields.<key>`` for a custom field).
    :param message: what is wrong with it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Column:
    """
    One column.

    :param name: the column's name in the target.
    :param kind: one of :data:`KINDS`.
    :param source: the API field it comes from (a dotted path for nested fields).
    """

    name: str
    kind: str
    source: str = ""


def convert(kind: str, value: Any, field_name: str) -> Any:
    """
    Check one API value against its column's kind and return it as the rows carry it.

    :param kind: the column kind.
    :param value: the API's value (None stays None).
    :param field_name: the API field, for the error.
    :raises FieldError: when the value does not fit.
    """
    if value is None:
        return None
    if kind in (KEY, TEXT):
        if not isinstance(value, str):
            raise FieldError(field_name, f"expected text, got {type(value).__name__} {value!r:.60}")
        if kind == KEY and (not value or len(value) > 64):
            raise FieldError(field_name, f"expected an id of 1 to 64 characters, got {value!r:.80}")
        return value
    if kind == BOOL:
        if not isinstance(value, bool):
            raise FieldError(field_name, f"expected true or false, got {value!r:.60}")
        return value
    if kind == TIMESTAMP:
        try:
            return parse_time(value)
        except (ValueError, TypeError, OverflowError, OSError):
            raise FieldError(field_name, f"expected an ISO-8601 date-time, got {value!r:.60}") from None
    if kind == NUMBER:
        number = read_number(value) if isinstance(value, int | float | str) else None
        if number is None:
            raise FieldError(field_name, f"expected a number, got {value!r:.60}")
        return number
    if kind == JSON:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    raise ValueError(f"unknown column kind {kind!r}")


def _get(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


#: Longest field name in a column (``cf_`` + 56 = 59 characters): fits PostgreSQL's 63 bytes and MySQL's 64.
FIELD_NAME_LIMIT = 56
#: Hex digits of the field id's digest that tell apart fields whose keys meet.
_SUFFIX = 8


def _normalised(key: str) -> str:
    short = key.split(".", 1)[1] if key.startswith("contact.") else key
    return re.sub(r"[^a-z0-9_]+", "_", short.lower()).strip("_") or "field"


def _suffixed(base: str, field_id: str, digits: int) -> str:
    digest = hashlib.sha1(field_id.encode()).hexdigest()[:digits]
    return f"{base[: FIELD_NAME_LIMIT - digits - 1].rstrip('_')}_{digest}"


def field_names(definitions: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """
    The warehouse name of each custom field (its column is ``cf_<name>``, its key in JSON ``<name>``).

    A key in HighLevel's own form, ``contact.<lowercase, digits, _>`` of at most 56 characters, keeps its
    part after ``contact.``; any other key (another case, punctuation, no prefix, longer) gets its normalised
    form cut short with ``_`` and 8 hex digits of the SHA-1 of the field id. So a field's name depends on
    its own key and id only: it never changes when other fields come and go, and no two fields share one.

    :param definitions: the location's custom field definitions (``id``, ``fieldKey``).
    :raises ValueError: when two fields still meet (two definitions with one id).
    """
    names: dict[str, str] = {}
    suffixed: list[tuple[str, str]] = []
    for definition in definitions:
        field_id = str(definition["id"])
        key = str(definition.get("fieldKey") or field_id)
        base = _normalised(key)
        if key == f"contact.{base}" and len(base) <= FIELD_NAME_LIMIT:
            names[field_id] = base
        else:
            names[field_id] = _suffixed(base, field_id, _SUFFIX)
            suffixed.append((field_id, base))
    taken = Counter(names.values())
    for field_id, base in suffixed:  # a plain key that happens to look like another field's suffixed name
        if taken[names[field_id]] > 1:
            taken[names[field_id]] -= 1
            names[field_id] = _suffixed(base, field_id, 40)
            taken[names[field_id]] += 1
    clashes = sorted(name for name, count in taken.items() if count > 1)
    if clashes:
        raise ValueError(f"custom fields: more than one definition takes the name {clashes[0]!r}")
    return names


def column_name(name: str) -> str:
    """
    The column of a custom field: ``cf_`` and its warehouse name (see :func:`field_names`).

    :param name: the field's warehouse name.
    """
    return CUSTOM_FIELD_PREFIX + name


@dataclass(frozen=True)
class CustomFields:
    """
    How the contacts' custom fields land: ``json`` (one JSON column, ``{name: value}``) or ``columns`` (one
    column per field, ``cf_<name>``); each field's name comes from :func:`field_names`.

    :param mode: ``json`` or ``columns``.
    :param definitions: the location's custom field definitions (``id``, ``fieldKey``, ``dataType``).
    """

    mode: str = "json"
    definitions: tuple[Mapping[str, Any], ...] = ()
    by_id: dict[str, tuple[str, Column]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in ("json", "columns"):
            raise ValueError(f"custom_fields must be 'json' or 'columns', got {self.mode!r}")
        names = field_names(self.definitions)
        for definition in self.definitions:
            field_id = str(definition["id"])
            kind = _CUSTOM_KINDS.get(str(definition.get("dataType") or "").upper(), TEXT)
            key = str(definition.get("fieldKey") or field_id)
            source = f"customFields.{key.split('.', 1)[1] if key.startswith('contact.') else key}"
            self.by_id[field_id] = (names[field_id], Column(column_name(names[field_id]), kind, source))

    def columns(self) -> list[Column]:
        """The columns the custom fields take."""
        if self.mode == "json":
            return [Column(CUSTOM_FIELDS_COLUMN, JSON, "customFields")]
        return sorted((column for _, column in self.by_id.values()), key=lambda c: c.name)

    def mapping_rows(self, loaded_at: datetime) -> list[dict[str, Any]]:
        """
        The rows of the mapping table: which field (id, key, name, type) lands under which name.

        :param loaded_at: the value of ``_loaded_at``.
        """
        spec = TableSpec("custom_fields", MAPPING_COLUMNS)
        records = [
            {
                "id": str(d["id"]),
                "fieldKey": d.get("fieldKey"),
                "name": d.get("name"),
                "dataType": d.get("dataType"),
                "jsonKey": self.by_id[str(d["id"])][0],
                "column": self.by_id[str(d["id"])][1].name if self.mode == "columns" else None,
            }
            for d in self.definitions
        ]
        return [spec.to_row(record, loaded_at) for record in records]

    def values(self, items: Any) -> dict[str, Any]:
        """
        The row values of a contact's ``customFields`` (``[{"id", "value"}]``).

        :param items: the contact's ``customFields``.
        :raises FieldError: for a malformed list, an unknown field id (columns mode) or a value of the wrong
            type.
        """
        if items is None:
            items = []
        if not isinstance(items, list) or any(not isinstance(i, Mapping) or "id" not in i for i in items):
            raise FieldError("customFields", "expected a list of {id, value} objects")
        if self.mode == "json":
            mapped = {self.by_id.get(str(i["id"]), (str(i["id"]),))[0]: i.get("value") for i in items}
            return {CUSTOM_FIELDS_COLUMN: convert(JSON, mapped, "customFields")}
        row: dict[str, Any] = dict.fromkeys((c.name for c in self.columns()), None)
        for item in items:
            known = self.by_id.get(str(item["id"]))
            if known is None:
                raise FieldError(f"customFields.{item['id']}", "unknown custom field id for this location")
            _, column = known
            row[column.name] = convert(column.kind, item.get("value"), column.source)
        return row


@dataclass(frozen=True)
class TableSpec:
    """
    One table of the warehouse.

    :param entity: ``contacts``, ``tasks``, ``notes`` or ``appointments``.
    :param columns: its content columns, ``id`` first.
    :param custom: the custom fields, on the contacts table only.
    """

    entity: str
    columns: tuple[Column, ...]
    custom: CustomFields | None = None

    def all_columns(self) -> list[Column]:
        """Content columns, custom field columns, then the bookkeeping ones."""
        return [
            *self.columns,
            *(self.custom.columns() if self.custom else ()),
            Column(HASH, TEXT),
            Column(LOADED_AT, TIMESTAMP),
            Column(DELETED, BOOL),
            Column(DELETED_AT, TIMESTAMP),
        ]

    def to_row(self, record: Mapping[str, Any], loaded_at: datetime) -> dict[str, Any]:
        """
        The row of one API object, with its content hash.

        :param record: the API's object.
        :param loaded_at: the value of ``_loaded_at``.
        :raises FieldError: naming the first field that cannot be written.
        """
        if not isinstance(record, Mapping):
            raise FieldError("(record)", f"expected an object, got {type(record).__name__}")
        row = {c.name: convert(c.kind, _get(record, c.source), c.source) for c in self.columns}
        if row.get("id") is None:
            raise FieldError("id", "missing")
        if self.custom is not None:
            row.update(self.custom.values(record.get("customFields")))
        digest = hashlib.sha1(
            json.dumps(row, sort_keys=True, default=str, separators=(",", ":")).encode()
        ).hexdigest()
        row.update({HASH: digest, LOADED_AT: loaded_at, DELETED: False, DELETED_AT: None})
        return row


def _columns(*spec: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(name, kind, source) for name, kind, source in spec)


CONTACT_COLUMNS = _columns(
    ("id", KEY, "id"),
    ("location_id", TEXT, "locationId"),
    ("contact_name", TEXT, "contactName"),
    ("first_name", TEXT, "firstName"),
    ("last_name", TEXT, "lastName"),
    ("email", TEXT, "email"),
    ("phone", TEXT, "phone"),
    ("company_name", TEXT, "companyName"),
    ("type", TEXT, "type"),
    ("source", TEXT, "source"),
    ("assigned_to", TEXT, "assignedTo"),
    ("business_id", TEXT, "businessId"),
    ("address1", TEXT, "address1"),
    ("city", TEXT, "city"),
    ("state", TEXT, "state"),
    ("postal_code", TEXT, "postalCode"),
    ("country", TEXT, "country"),
    ("timezone", TEXT, "timezone"),
    ("website", TEXT, "website"),
    ("gender", TEXT, "gender"),
    ("date_of_birth", TEXT, "dateOfBirth"),
    ("dnd", BOOL, "dnd"),
    ("tags", JSON, "tags"),
    ("followers", JSON, "followers"),
    ("additional_emails", JSON, "additionalEmails"),
    ("date_added", TIMESTAMP, "dateAdded"),
    ("date_updated", TIMESTAMP, "dateUpdated"),
)
TASK_COLUMNS = _columns(
    ("id", KEY, "id"),
    ("contact_id", KEY, "contactId"),
    ("title", TEXT, "title"),
    ("body", TEXT, "body"),
    ("assigned_to", TEXT, "assignedTo"),
    ("due_date", TIMESTAMP, "dueDate"),
    ("completed", BOOL, "completed"),
    ("date_added", TIMESTAMP, "dateAdded"),
    ("date_updated", TIMESTAMP, "dateUpdated"),
)
NOTE_COLUMNS = _columns(
    ("id", KEY, "id"),
    ("contact_id", KEY, "contactId"),
    ("title", TEXT, "title"),
    ("body", TEXT, "body"),
    ("user_id", TEXT, "userId"),
    ("color", TEXT, "color"),
    ("pinned", BOOL, "pinned"),
    ("date_added", TIMESTAMP, "dateAdded"),
)
APPOINTMENT_COLUMNS = _columns(
    ("id", KEY, "id"),
    ("contact_id", KEY, "contactId"),
    ("calendar_id", TEXT, "calendarId"),
    ("title", TEXT, "title"),
    ("status", TEXT, "status"),
    ("appointment_status", TEXT, "appointmentStatus"),
    ("assigned_user_id", TEXT, "assignedUserId"),
    ("address", TEXT, "address"),
    ("notes", TEXT, "notes"),
    ("start_time", TIMESTAMP, "startTime"),
    ("end_time", TIMESTAMP, "endTime"),
    ("date_added", TIMESTAMP, "dateAdded"),
    ("date_updated", TIMESTAMP, "dateUpdated"),
)
#: The custom fields' mapping table (``<table>_custom_fields``): one row per field id.
MAPPING_COLUMNS = _columns(
    ("id", KEY, "id"),
    ("field_key", TEXT, "fieldKey"),
    ("field_name", TEXT, "name"),
    ("data_type", TEXT, "dataType"),
    ("json_key", TEXT, "jsonKey"),
    ("column_name", TEXT, "column"),
)
#: The mapping's entity; every transfer writes it next to the contacts.
MAPPING_ENTITY = "custom_fields"
#: The related records a transfer can bring along, each in its own table.
CHILD_ENTITIES = ("tasks", "notes", "appointments")
_CHILD_COLUMNS = {"tasks": TASK_COLUMNS, "notes": NOTE_COLUMNS, "appointments": APPOINTMENT_COLUMNS}


def table_specs(custom: CustomFields, include: Sequence[str]) -> dict[str, TableSpec]:
    """
    The tables of a transfer: contacts, then the related records asked for.

    :param custom: how the custom fields land.
    :param include: any of :data:`CHILD_ENTITIES`.
    """
    unknown = set(include) - set(CHILD_ENTITIES)
    if unknown:
        raise ValueError(f"include: unknown {sorted(unknown)}; choose among {list(CHILD_ENTITIES)}")
    specs = {"contacts": TableSpec("contacts", CONTACT_COLUMNS, custom)}
    for entity in CHILD_ENTITIES:
        if entity in include:
            specs[entity] = TableSpec(entity, _CHILD_COLUMNS[entity])
    specs[MAPPING_ENTITY] = TableSpec(MAPPING_ENTITY, MAPPING_COLUMNS)
    return specs


def rows_of(
    spec: TableSpec,
    records: Iterable[Mapping[str, Any]],
    loaded_at: datetime,
    on_error: Callable[[str, str, FieldError], None],
    contact_id: str | None = None,
) -> list[dict[str, Any]]:
    """
    The rows of many records; a bad one is reported through ``on_error`` and left out.

    :param spec: their table.
    :param records: the API objects.
    :param loaded_at: the value of ``_loaded_at``.
    :param on_error: called with (entity, record id, error) for each bad record.
    :param contact_id: the contact they belong to, filled in where the API leaves ``contactId`` out.
    """
    rows = []
    for record in records:
        if contact_id is not None and isinstance(record, dict) and not record.get("contactId"):
            record = {**record, "contactId": contact_id}
        try:
            rows.append(spec.to_row(record, loaded_at))
        except FieldError as error:
            record_id = record.get("id") if isinstance(record, Mapping) else None
            on_error(spec.entity, str(record_id), error)
    return rows

"""
The parts of SyncContactsOperator that need no API: reading records, mapping, transforms, validation, diffs.

A source record (a dict from a list, an XCom value, a JSON / NDJSON / CSV file) becomes a
:class:`MappedContact` through a declarative field mapping, default normalisation (strip strings, lower-case
e-mails, E.164 phones) and optional per-field transforms. Every check that can fail for one record raises
:class:`RecordError` naming the field, so that record fails alone with a message that says where.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_provider_contacts.api_versions import custom_field_types
from airflow_provider_contacts.coercion import read_number, to_bool
from airflow_provider_contacts.exceptions import ContactsConfigError

CUSTOM_PREFIX = "customFields."

# The writable contact fields of the upsert body (UpsertContactDto, without locationId) and their kinds.
STANDARD_FIELDS: dict[str, str] = {
    "firstName": "str",
    "lastName": "str",
    "name": "str",
    "email": "email",
    "phone": "phone",
    "gender": "str",
    "address1": "str",
    "city": "str",
    "state": "str",
    "postalCode": "str",
    "website": "str",
    "timezone": "str",
    "dnd": "bool",
    "dndSettings": "dict",
    "inboundDndSettings": "dict",
    "source": "str",
    "dateOfBirth": "date",
    "country": "country",
    "companyName": "str",
    "assignedTo": "str",
    "tags": "tags",
}
# Longest accepted value per field kind; longer values fail the record before any request.
MAX_LENGTH: dict[str, int] = {"str": 255, "email": 254, "tag": 100, "custom": 5000}
MAX_LENGTH_BY_FIELD: dict[str, int] = {"website": 2048}
LIST_CUSTOM_TYPES = custom_field_types("list")
NUMBER_CUSTOM_TYPES = custom_field_types("number")
OPTION_CUSTOM_TYPES = custom_field_types("option")
UNSUPPORTED_CUSTOM_TYPES = custom_field_types("unsupported")

_EMAIL = re.compile(r"^[^@\s\"'<>,;]+@[^@\s\"'<>,;]+\.[A-Za-z]{2,}$")
_PHONE_NOISE = re.compile(r"[\s\-.()/]")
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%m-%d-%Y",
    "%Y.%m.%d",
    "%m.%d.%Y",
    "%Y_%m_%d",
    "%m_%d_%Y",
)


def describe_record(index: int, label: str) -> str:
    """How messages name a record: ``record 17 (email a@b.c)``; the index counts from 0."""
    return f"record {index} ({label})" if label else f"record {index}"


class RecordError(ValueError):
    """One record cannot be synced; the message names the field and why."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name


class InvalidSourceRecord:
    """Stands for a record that could not even be read (a bad NDJSON line, a non-object JSON item)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


# --------------------------------------------------------------------------------------------- sources


class RecordSource:
    """
    Records from a list, an iterable, or a file; iterable more than once, reading files lazily each time.

    ``.json`` files hold an array of objects (or an object with a ``records`` or ``contacts`` array) and are
    loaded whole; ``.ndjson`` / ``.jsonl`` and ``.csv`` files are read one line at a time. A path is a string,
    an ``os.PathLike`` or any object with ``open()`` and ``suffix`` (such as ``ObjectStoragePath``). A one-shot
    iterator is read into a list once, since a sync reads its records twice (validation, then writes).

    :param records: the records or where they are.
    """

    LAZY_SUFFIXES = frozenset({".ndjson", ".jsonl", ".csv"})

    def __init__(self, records: Any) -> None:
        self._path: Any = None  # a Path, or anything with open() and suffix (ObjectStoragePath)
        self._items: Sequence[Any] | None = None
        if isinstance(records, str | os.PathLike):
            self._path = Path(records)
        elif hasattr(records, "open") and hasattr(records, "suffix"):
            self._path = records
        elif isinstance(records, Mapping):
            raise ContactsConfigError("records must be a list of dicts or a file path, not one dict")
        elif isinstance(records, Sequence):
            self._items = records
        elif isinstance(records, Iterable):
            self._items = list(records)
        else:
            raise ContactsConfigError(f"records must be a list of dicts or a file path, not {type(records)}")
        if isinstance(self._path, Path) and not self._path.is_file():
            raise ContactsConfigError(f"records file {self._path} does not exist")
        if self._path is not None:
            suffix = self._path.suffix.lower()
            if suffix not in self.LAZY_SUFFIXES | {".json"}:
                raise ContactsConfigError(
                    f"cannot read records from {self._path}: use a .json, .ndjson, .jsonl or .csv file"
                )

    @property
    def description(self) -> str:
        return str(self._path) if self._path is not None else f"a list of {len(self._items or ())} records"

    def __iter__(self) -> Iterator[Mapping[str, Any] | InvalidSourceRecord]:
        if self._items is not None:
            yield from (_checked_item(item) for item in self._items)
            return
        assert self._path is not None
        suffix = self._path.suffix.lower()
        if suffix == ".json":
            yield from (_checked_item(item) for item in self._load_json())
        elif suffix == ".csv":
            with self._path.open("r", encoding="utf-8-sig", newline="") as handle:
                for row in csv.DictReader(handle):
                    # Extra cells beyond the header land under the key None: not a field of ours.
                    yield {key: value for key, value in row.items() if key is not None}
        else:
            with self._path.open("r", encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        item = json.loads(line)
                    except json.JSONDecodeError as err:
                        yield InvalidSourceRecord(f"line {number} is not valid JSON: {err.msg}")
                        continue
                    yield _checked_item(item)

    def _load_json(self) -> list[Any]:
        assert self._path is not None
        with self._path.open("r", encoding="utf-8") as handle:
            data = json.load(handle)
        if isinstance(data, Mapping):
            for key in ("records", "contacts"):
                if isinstance(data.get(key), list):
                    return data[key]
        if not isinstance(data, list):
            raise ContactsConfigError(f"{self._path} must hold a JSON array of objects")
        return data


def _checked_item(item: Any) -> Mapping[str, Any] | InvalidSourceRecord:
    if isinstance(item, Mapping):
        return item
    return InvalidSourceRecord(f"is a {type(item).__name__}, not an object")


# ----------------------------------------------------------------------------------------- normalising


def normalize_email(value: str) -> str:
    """Strip and lower-case an e-mail address; RecordError when it is not one."""
    email = value.strip().lower()
    if len(email) > MAX_LENGTH["email"]:
        raise RecordError(f"is longer than {MAX_LENGTH['email']} characters")
    if not _EMAIL.match(email):
        raise RecordError(f"{value!r} is not a valid e-mail address")
    return email


def normalize_phone(value: str | int, default_country_code: str | None = "1") -> str:
    """
    Return a phone number in E.164 (``+14155550100``); RecordError when it cannot be one.

    ``+`` or ``00`` starts an international number; anything else is national and gets
    ``default_country_code`` (a leading trunk ``0`` is dropped, and an 11-digit NANP number's leading ``1``
    is taken as the country code).
    """
    text = _PHONE_NOISE.sub("", str(value).strip())
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    else:
        if not default_country_code:
            raise RecordError(f"{value!r} has no country code and no default_country_code is set")
        country = default_country_code.lstrip("+")
        national = text
        # Drop the national prefix: the NANP's leading 1 of an 11-digit number, elsewhere the trunk 0.
        trunk = "1" if country == "1" and len(national) == 11 else "0" if country != "1" else None
        if trunk and national.startswith(trunk):
            national = national[1:]
        digits = country + national
    if not digits.isdigit():
        raise RecordError(f"{value!r} is not a phone number")
    if not 8 <= len(digits) <= 15:
        raise RecordError(f"{value!r} is not a phone number (E.164 has 8 to 15 digits)")
    if digits.startswith("1") and len(digits) != 11:
        raise RecordError(f"{value!r} is not a valid North American number (10 digits after +1)")
    return "+" + digits


NAMED_TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "strip": lambda v: v.strip() if isinstance(v, str) else v,
    "lower": lambda v: v.lower() if isinstance(v, str) else v,
    "upper": lambda v: v.upper() if isinstance(v, str) else v,
    "title": lambda v: v.title() if isinstance(v, str) else v,
}

Transform = str | Callable[[Any], Any]


# ----------------------------------------------------------------------------------------------- mapping


@dataclass
class MappedContact:
    """One record, mapped and validated: what the sync will make the contact look like."""

    index: int
    label: str
    fields: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)

    @property
    def email(self) -> str | None:
        return self.fields.get("email")

    @property
    def phone(self) -> str | None:
        return self.fields.get("phone")


class ContactMapper:
    """
    Turns source records into :class:`MappedContact` and says what differs from an existing contact.

    :param field_mapping: source field -> contact field (``"email"``, ``"customFields.<id or key>"``, ``"tags"``).
        A dotted source name reads a nested dict (``"address.city"``) when no key has that exact name. None:
        the records already use contact field names, and any other key fails the record.
    :param transforms: contact field -> a transform or a list of them, applied after the defaults: a name
        (``strip``, ``lower``, ``upper``, ``title``) or a callable taking and returning the value (raise
        ValueError to fail the record).
    :param default_country_code: country code for national phone numbers; None requires international ones.
    :param tags: tags every synced contact gets.
    :param key_field: the source field that names a record in messages (default: its e-mail or phone).
    :param custom_fields: a callable returning the location's custom field definitions; called at most once,
        and only when a custom field is used.
    """

    def __init__(
        self,
        field_mapping: Mapping[str, str] | None = None,
        transforms: Mapping[str, Transform | Sequence[Transform]] | None = None,
        default_country_code: str | None = "1",
        tags: Sequence[str] | None = None,
        key_field: str | None = None,
        custom_fields: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.field_mapping = dict(field_mapping) if field_mapping is not None else None
        self.default_country_code = str(default_country_code) if default_country_code else None
        self.tags = _clean_tags(tags or [], "tags")
        self.key_field = key_field
        self._load_custom_fields = custom_fields
        self._custom_by_ref: dict[str, dict[str, Any]] | None = None
        self.transforms = self._compile_transforms(transforms or {})
        if self.field_mapping is not None:
            for source, target in self.field_mapping.items():
                if not isinstance(target, str) or not (
                    target in STANDARD_FIELDS or target.startswith(CUSTOM_PREFIX)
                ):
                    raise ContactsConfigError(
                        f"field_mapping[{source!r}] = {target!r} is not a contact field; use one of "
                        f"{', '.join(sorted(STANDARD_FIELDS))} or customFields.<id or key>"
                    )

    @staticmethod
    def _compile_transforms(
        transforms: Mapping[str, Transform | Sequence[Transform]],
    ) -> dict[str, list[Callable[[Any], Any]]]:
        compiled: dict[str, list[Callable[[Any], Any]]] = {}
        for target, spec in transforms.items():
            steps = [spec] if isinstance(spec, str) or callable(spec) else list(spec)
            compiled[target] = []
            for step in steps:
                if callable(step):
                    compiled[target].append(step)
                elif step in NAMED_TRANSFORMS:
                    compiled[target].append(NAMED_TRANSFORMS[step])
                else:
                    raise ContactsConfigError(
                        f"transforms[{target!r}]: unknown transform {step!r}; "
                        f"use a callable or one of {', '.join(NAMED_TRANSFORMS)}"
                    )
        return compiled

    # ------------------------------------------------------------------------------------- custom fields

    def custom_field(self, ref: str) -> dict[str, Any] | None:
        """The definition of a custom field named by id, ``fieldKey`` or key without ``contact.``."""
        if self._custom_by_ref is None:
            definitions = self._load_custom_fields() if self._load_custom_fields else []
            by_ref: dict[str, dict[str, Any]] = {}
            for definition in definitions:
                for name in (definition.get("id"), definition.get("fieldKey")):
                    if name:
                        by_ref[name] = definition
                key = definition.get("fieldKey") or ""
                if key.startswith("contact."):
                    by_ref.setdefault(key[len("contact.") :], definition)
            self._custom_by_ref = by_ref
        return self._custom_by_ref.get(ref)

    def check_mapping(self) -> None:
        """Fail fast, before any record, when the mapping names a custom field the location does not have."""
        if self.field_mapping is None:
            return
        unknown = [
            target
            for target in self.field_mapping.values()
            if target.startswith(CUSTOM_PREFIX) and self.custom_field(target[len(CUSTOM_PREFIX) :]) is None
        ]
        if unknown:
            raise ContactsConfigError(
                f"field_mapping names custom fields this location does not have: {', '.join(unknown)}"
            )

    # --------------------------------------------------------------------------------------------- map

    def record_label(self, record: Mapping[str, Any] | InvalidSourceRecord) -> str:
        """What names a record beside its index: ``email a@b.c`` (the key field, else e-mail, else phone)."""
        if isinstance(record, Mapping):
            candidates: list[str] = []
            if self.key_field:
                candidates.append(self.key_field)
            for target in ("email", "phone"):
                if self.field_mapping is None:
                    candidates.append(target)
                else:
                    candidates.extend(s for s, t in self.field_mapping.items() if t == target)
            for name in candidates:
                value = _read(record, name)
                if value not in (None, ""):
                    return f"{name} {str(value).strip()[:80]}"
        return ""

    def map(self, index: int, record: Mapping[str, Any] | InvalidSourceRecord) -> MappedContact:
        """Map and validate one record; RecordError (naming record and field) when it cannot be synced."""
        label = self.record_label(record)
        key = describe_record(index, label)
        if isinstance(record, InvalidSourceRecord):
            raise RecordError(f"{key}: {record.reason}")
        contact = MappedContact(index=index, label=label, tags=list(self.tags))
        for source, target, value in self._values(key, record):
            try:
                self._set(contact, target, value)
            except RecordError as err:
                where = f"field {target!r}" if source == target else f"field {target!r} (from {source!r})"
                raise RecordError(f"{key}: {where}: {err}", target) from None
        if not contact.email and not contact.phone:
            raise RecordError(f"{key}: has neither email nor phone; one is needed to match a contact")
        return contact

    def _values(self, key: str, record: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
        """(source name, contact field, value) for each field the record sets."""
        if self.field_mapping is not None:
            return [(source, target, _read(record, source)) for source, target in self.field_mapping.items()]
        values = []
        for name, value in record.items():
            if name == "customFields":
                continue
            if name not in STANDARD_FIELDS and not name.startswith(CUSTOM_PREFIX):
                raise RecordError(
                    f"{key}: field {name!r} is not a contact field (give a field_mapping to map or drop it)",
                    name,
                )
            values.append((name, name, value))
        # The API's own shape: customFields: [{"id" | "key": ..., "fieldValue" | "field_value" | "value": ...}].
        for item in record.get("customFields") or []:
            if not isinstance(item, Mapping) or not (item.get("id") or item.get("key")):
                raise RecordError(f"{key}: field 'customFields': items need an id or key", "customFields")
            target = f"{CUSTOM_PREFIX}{item.get('id') or item.get('key')}"
            value = item.get("fieldValue", item.get("field_value", item.get("value")))
            values.append(("customFields", target, value))
        return values

    def _set(self, contact: MappedContact, target: str, value: Any) -> None:
        value = self._transform(target, value)
        if _is_empty(value):
            return  # a sync never blanks a field: empty values are left out
        if target.startswith(CUSTOM_PREFIX):
            ref = target[len(CUSTOM_PREFIX) :]
            definition = self.custom_field(ref)
            if definition is None:
                raise RecordError(f"unknown custom field {ref!r} (not defined in this location)")
            contact.custom[definition["id"]] = _custom_value(definition, value)
        elif target == "tags":
            for tag in _clean_tags(value, target):
                if tag.lower() not in {t.lower() for t in contact.tags}:
                    contact.tags.append(tag)
        else:
            contact.fields[target] = self._standard_value(target, value)

    def _transform(self, target: str, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
        for step in self.transforms.get(target, ()):
            try:
                value = step(value)
            except (ValueError, TypeError) as err:
                raise RecordError(f"transform failed: {err}") from None
        return value

    def _standard_value(self, target: str, value: Any) -> Any:
        kind = STANDARD_FIELDS[target]
        if kind == "email":
            return normalize_email(_as_text(value))
        if kind == "phone":
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise RecordError(f"expected a phone number, got {type(value).__name__}")
            return normalize_phone(value, self.default_country_code)
        if kind == "bool":
            return _as_bool(value)
        if kind == "dict":
            return _as_dict(value)
        if kind == "date":
            return _as_date(value)
        if kind == "country":
            country = _as_text(value).upper()
            if len(country) != 2 or not country.isalpha():
                raise RecordError(f"{value!r} is not an ISO 3166 two-letter country code")
            return country
        text = _as_text(value)
        limit = MAX_LENGTH_BY_FIELD.get(target, MAX_LENGTH["str"])
        if len(text) > limit:
            raise RecordError(f"is {len(text)} characters long, longer than {limit}")
        return text

    # -------------------------------------------------------------------------------------------- diff

    def changes(self, contact: MappedContact, existing: Mapping[str, Any]) -> list[str]:
        """The fields the existing contact lacks or has otherwise: empty when the upsert would change nothing."""
        changed = [
            name
            for name, value in contact.fields.items()
            if not _same(STANDARD_FIELDS[name], value, existing.get(name))
        ]
        stored = {
            item.get("id"): item.get("value", item.get("field_value"))
            for item in existing.get("customFields") or []
            if isinstance(item, Mapping)
        }
        changed.extend(
            f"{CUSTOM_PREFIX}{ref}"
            for ref, value in contact.custom.items()
            if not _same_custom(value, stored.get(ref))
        )
        have = {str(t).lower() for t in existing.get("tags") or []}
        if any(tag.lower() not in have for tag in contact.tags):
            changed.append("tags")
        return changed

    def body(self, contact: MappedContact, existing: Mapping[str, Any] | None) -> dict[str, Any]:
        """
        The upsert body: the mapped fields, custom fields and tags.

        Tags in an upsert replace the contact's list, so an existing contact's tags are sent along with the
        new ones: adding tags costs no extra request and removes none.
        """
        body: dict[str, Any] = dict(contact.fields)
        if contact.custom:
            body["customFields"] = [
                {"id": ref, "field_value": value} for ref, value in contact.custom.items()
            ]
        if contact.tags:
            tags = [str(t) for t in (existing or {}).get("tags") or []]
            have = {t.lower() for t in tags}
            tags.extend(t for t in contact.tags if t.lower() not in have)
            body["tags"] = tags
        return body


def _read(record: Mapping[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    value: Any = record
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict) and len(value) == 0)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"expected text, got {type(value).__name__}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _as_bool(value: Any) -> bool:
    try:
        return to_bool(value, "value")
    except ContactsConfigError:
        raise RecordError(f"expected true or false, got {value!r}") from None


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RecordError("expected a JSON object") from None
    if not isinstance(value, Mapping):
        raise RecordError(f"expected an object, got {type(value).__name__}")
    return dict(value)


def _as_date(value: Any) -> str:
    text = _as_text(value)[:10] if isinstance(value, str) and "T" in value else _as_text(value)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).strftime("%Y-%m-%d")
        except ValueError:
            continue
    raise RecordError(f"{value!r} is not a date (YYYY-MM-DD, MM/DD/YYYY ...)")


def _clean_tags(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        items: list[Any] = [part for part in value.split(",")]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        raise RecordError(f"expected a list of tags or a comma-separated string, got {type(value).__name__}")
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise RecordError(f"tag {item!r} is not text")
        tag = item.strip()
        if len(tag) > MAX_LENGTH["tag"]:
            raise RecordError(f"tag {tag[:20]!r}... is longer than {MAX_LENGTH['tag']} characters")
        if tag and tag.lower() not in {t.lower() for t in tags}:
            tags.append(tag)
    return tags


def _custom_value(definition: Mapping[str, Any], value: Any) -> Any:
    data_type = str(definition.get("dataType") or "TEXT").upper()
    name = definition.get("fieldKey") or definition.get("name") or definition.get("id")
    if data_type in UNSUPPORTED_CUSTOM_TYPES:
        raise RecordError(f"custom field {name!r} is of type {data_type}, which a sync cannot write")
    if data_type in NUMBER_CUSTOM_TYPES:
        number = _as_number(value)
        if number is None:
            raise RecordError(f"custom field {name!r} ({data_type}) expects a number, got {value!r}")
        return number
    options = {str(o).lower(): str(o) for o in definition.get("picklistOptions") or []}
    if data_type in LIST_CUSTOM_TYPES:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, Sequence) or any(not isinstance(i, str | int | float) for i in items):
            raise RecordError(f"custom field {name!r} ({data_type}) expects a list of values, got {value!r}")
        return [_option(name, options, str(i).strip()) for i in items if str(i).strip()]
    try:
        text = _as_text(value)
    except RecordError:
        raise RecordError(
            f"custom field {name!r} ({data_type}) expects text, got {type(value).__name__}"
        ) from None
    if data_type in OPTION_CUSTOM_TYPES:
        text = _option(name, options, text)
    if len(text) > MAX_LENGTH["custom"]:
        raise RecordError(
            f"custom field {name!r} is {len(text)} characters long, longer than {MAX_LENGTH['custom']}"
        )
    return text


def _option(name: Any, options: Mapping[str, str], value: str) -> str:
    """A picklist value in the definition's spelling; RecordError when it is not one of the options."""
    if not options:
        return value
    if value.lower() not in options:
        raise RecordError(f"custom field {name!r}: {value!r} is not one of {', '.join(options.values())}")
    return options[value.lower()]


def _as_number(value: Any) -> int | float | None:
    # Source files write thousands with separators ("1,234.5"): the only leniency of a record's number.
    number = read_number(value.replace(",", "") if isinstance(value, str) else value)
    if number is None:
        return None
    return int(number) if number.is_integer() else number


def _same(kind: str, desired: Any, stored: Any) -> bool:
    if stored is None:
        return False
    if kind == "email":
        return str(stored).strip().lower() == desired
    if kind == "phone":
        return re.sub(r"\D", "", str(stored)) == desired.lstrip("+")
    if kind == "date":
        return str(stored)[:10] == desired
    if kind == "country":
        return str(stored).upper() == desired
    if kind == "dict":
        return isinstance(stored, Mapping) and all(stored.get(k) == v for k, v in desired.items())
    if kind == "str":
        return str(stored).strip() == desired
    return stored == desired


def _same_custom(desired: Any, stored: Any) -> bool:
    if stored is None:
        return False
    if isinstance(desired, list):
        stored_items = stored if isinstance(stored, list) else str(stored).split(",")
        return sorted(str(i).strip() for i in stored_items) == sorted(desired)
    if isinstance(desired, int | float):
        return _as_number(stored) == desired
    return str(stored).strip() == desired

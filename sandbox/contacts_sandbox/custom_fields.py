"""
The Locations API's custom field writes, as ``locations.json`` says: ``POST /locations/{locationId}/customFields``
and ``GET``/``PUT``/``DELETE /locations/{locationId}/customFields/{id}`` (the list is in ``routes.py``).

Bodies follow ``CreateCustomFieldsDTO`` and ``UpdateCustomFieldsDTO`` (unknown properties are refused, as
NestJS's whitelist does); answers are ``{"customField": {...}}`` (201 on create) and, on delete, the spec's
``{"succeded": true}``. The ``fieldKey`` is derived from the name when the field is created and kept when it
is renamed: see :func:`field_key` and ``docs/api-behaviour.md``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from .clock import iso, now_ms
from .errors import ApiError, not_found, unprocessable
from .routes import Call, route
from .spec import BodySchema

SPEC_FILE = "locations.json"
LIST_PATH = "/locations/{locationId}/customFields"
ITEM_PATH = "/locations/{locationId}/customFields/{id}"
WRITE_SCOPE = "locations/customFields.write"
READ_SCOPE = "locations/customFields.readonly"
#: The ``dataType`` values HighLevel lists for custom fields.
DATA_TYPES = frozenset(
    {
        "TEXT",
        "LARGE_TEXT",
        "NUMERICAL",
        "PHONE",
        "MONETORY",
        "CHECKBOX",
        "SINGLE_OPTIONS",
        "MULTIPLE_OPTIONS",
        "DATE",
        "TEXTBOX_LIST",
        "FILE_UPLOAD",
        "RADIO",
        "EMAIL",
    }
)
MODELS = ("contact", "opportunity")


@cache
def _operations() -> dict[tuple[str, str], tuple[BodySchema | None, tuple[str, ...]]]:
    spec = json.loads(resources.files(__package__).joinpath(SPEC_FILE).read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    found = {}
    for path in (LIST_PATH, ITEM_PATH):
        for method, op in spec["paths"][path].items():
            body = None
            if "requestBody" in op:
                ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                schema = schemas[ref.rsplit("/", 1)[1]]
                body = BodySchema(
                    properties={name: prop.get("type") for name, prop in schema["properties"].items()},
                    required=tuple(schema.get("required", ())),
                )
            versions = next(p for p in op["parameters"] if p["name"] == "Version")["schema"]["enum"]
            found[(method.upper(), path)] = (body, tuple(versions))
    return found


def _declared(method: str, path: str) -> dict[str, Any]:
    body, versions = _operations()[(method, path)]
    return {"body": body, "versions": versions}


def field_key(name: str, taken: set[str]) -> str:
    """
    The ``fieldKey`` of a new contact field: ``contact.`` and the name in lower case, each run of characters
    other than letters and digits made one ``_``, trimmed; ``_1``, ``_2`` ... when another field holds it.

    :param name: the field's name.
    :param taken: the keys the location's fields hold.
    """
    slug = re.sub(r"[\W_]+", "_", name.lower()).strip("_")
    if not slug:
        raise unprocessable("name must contain a letter or a digit")
    key, n = f"contact.{slug}", 0
    while key in taken:
        n += 1
        key = f"contact.{slug}_{n}"
    return key


def _check_scope(call: Call, *accepted: str) -> None:
    # The sandbox's tokens carry the contacts scopes; the routes accept them as well as the real scope.
    assert call.principal is not None
    if not call.principal.scopes & {*accepted, "contacts.write"}:
        raise ApiError(401, f"The token is not authorized for this scope: {accepted[0]} is missing")


def _fields(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise unprocessable("name should not be empty")
    changes: dict[str, Any] = {"name": name}
    if "dataType" in body:
        if body["dataType"] not in DATA_TYPES:
            raise unprocessable(f"dataType must be one of {', '.join(sorted(DATA_TYPES))}")
        changes["dataType"] = body["dataType"]
    if "model" in body:
        if body["model"] not in MODELS:
            raise unprocessable("model must be one of the following values: contact, opportunity")
        changes["model"] = body["model"]
    for key in ("placeholder", "position"):
        if key in body:
            changes[key] = body[key]
    return changes


def _field(call: Call) -> dict[str, Any]:
    call.sb.check_location(call.location, call.params["locationId"])
    found = next((f for f in call.sb.custom_fields if f["id"] == call.params["id"]), None)
    if found is None:
        raise not_found("Custom field")
    return found


def _answer(call: Call, doc: dict[str, Any]) -> dict[str, Any]:
    return {"customField": {**doc, "locationId": call.location}}


def _create(call: Call, fields: dict[str, Any], key: str | None) -> dict[str, Any]:
    model = fields.get("model", "contact")
    taken = {f["fieldKey"] for f in call.sb.custom_fields}
    if key is None:
        key = field_key(fields["name"], taken) if model == "contact" else f"opportunity.{call.sb.new_id()}"
    elif key in taken:
        raise unprocessable(f"fieldKey {key!r} is taken")
    doc = {
        "id": call.sb.new_id(),
        "name": fields["name"],
        "fieldKey": key,
        "placeholder": fields.get("placeholder", ""),
        "dataType": fields["dataType"],
        "position": fields.get("position", 0),
        "picklistOptions": [],
        "model": model,
        "locationId": call.sb.location_id,
        "isRequired": False,
        "dateAdded": iso(now_ms()),
    }
    call.sb.store.put_custom_fields([doc])
    call.sb.reload_custom_fields()
    return doc


@route("POST", LIST_PATH, scope=WRITE_SCOPE, status=201, **_declared("POST", LIST_PATH))
async def create_custom_field(call: Call) -> dict[str, Any]:
    _check_scope(call, WRITE_SCOPE)
    call.sb.check_location(call.location, call.params["locationId"])
    return _answer(call, _create(call, _fields(call, call.body), None))


@route("POST", "/_sandbox/customFields", kind="admin")
async def add_custom_field_with_key(call: Call) -> dict[str, Any]:
    # A field whose key is not in the form HighLevel derives today (older, imported): the warehouse must keep
    # such keys apart too. Only the sandbox's admin can make one.
    key = call.body.get("fieldKey")
    if not isinstance(key, str) or not key:
        raise unprocessable("fieldKey should not be empty")
    fields = _fields(call, call.body)
    fields.setdefault("dataType", "TEXT")
    return {"customField": _create(call, fields, key)}


@route("GET", ITEM_PATH, scope=READ_SCOPE, **_declared("GET", ITEM_PATH))
async def get_custom_field(call: Call) -> dict[str, Any]:
    _check_scope(call, READ_SCOPE, WRITE_SCOPE, "contacts.readonly")
    return _answer(call, _field(call))


@route("PUT", ITEM_PATH, scope=WRITE_SCOPE, **_declared("PUT", ITEM_PATH))
async def update_custom_field(call: Call) -> dict[str, Any]:
    _check_scope(call, WRITE_SCOPE)
    doc = {**_field(call), **_fields(call, call.body)}  # the fieldKey stays what it was
    call.sb.store.update_custom_field(doc)
    call.sb.reload_custom_fields()
    return _answer(call, doc)


@route("DELETE", ITEM_PATH, scope=WRITE_SCOPE, **_declared("DELETE", ITEM_PATH))
async def delete_custom_field(call: Call) -> dict[str, Any]:
    _check_scope(call, WRITE_SCOPE)
    doc = _field(call)
    call.sb.store.delete_custom_field(doc["id"])
    call.sb.reload_custom_fields()
    return {"succeded": True}

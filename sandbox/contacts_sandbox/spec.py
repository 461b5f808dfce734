"""What the official OpenAPI files say about each Contacts operation, read once from the bundled copies.

``contacts.json`` is the verbatim ``apps/contacts.json`` of ``GoHighLevel/highlevel-api-docs`` (API version
``2021-07-28``); ``v3/contacts-v3.json`` is the verbatim ``apps/v3/contacts-v3.json`` (API version ``v3``).
The sandbox takes from them, per version and operation: the OAuth scope, the success status, the request
body's allowed and required properties and their simple types, the keys of the success body. So whitelist
validation ("property X should not exist"), required fields and 201-vs-200 follow the spec instead of a
hand-written copy of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

SPEC_FILE = "contacts.json"
V2 = "2021-07-28"
V3 = "v3"
#: The ``Version`` header values of the Contacts API and the bundled spec of each.
SPEC_FILES: dict[str, str] = {V2: SPEC_FILE, V3: "v3/contacts-v3.json"}
#: The error schemas each spec refers to as ``../common/common-schemas.json`` (verbatim copies too).
COMMON_FILES: dict[str, str] = {V2: "common-schemas.json", V3: "v3/common-schemas-v3.json"}
_COMMON_REF = "../common/common-schemas.json#"


@dataclass(frozen=True)
class BodySchema:
    """
    Allowed properties of a request body.

    :param properties: property name -> simple JSON type (``string``, ``boolean``, ``array``, ``number``,
        ``object`` or ``None`` when the spec gives none).
    :param required: properties that must be present.
    :param nullable: properties the spec marks ``nullable`` (an explicit null satisfies ``required``).
    """

    properties: dict[str, str | None] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    nullable: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Operation:
    """
    One operation of the spec.

    :param method: HTTP method, upper case.
    :param path: the path template, e.g. ``/contacts/{contactId}``.
    :param scope: the OAuth scope it needs (``contacts.write`` when the spec declares none: the bulk routes).
    :param status: its success status (200 or 201).
    :param body: its request body schema, or None when it takes no body.
    :param envelope: the top-level keys of its success body in the spec.
    :param query: the query parameters it accepts.
    :param required_query: the query parameters it requires.
    """

    method: str
    path: str
    scope: str
    status: int
    body: BodySchema | None
    envelope: tuple[str, ...]
    query: tuple[str, ...] = ()
    required_query: tuple[str, ...] = ()


def load_spec(version: str = V2) -> dict[str, Any]:
    """
    Return the bundled official Contacts spec of an API version (a fresh copy).

    :param version: ``2021-07-28`` or ``v3``.
    """
    text = resources.files(__package__).joinpath(SPEC_FILES[version]).read_text(encoding="utf-8")
    return json.loads(text)


def load_resolved_spec(version: str = V2) -> dict[str, Any]:
    """
    Return a version's Contacts spec with its error schemas merged in, so it stands alone (for validators).

    :param version: ``2021-07-28`` or ``v3``.
    """
    files = resources.files(__package__)
    spec = json.loads(
        files.joinpath(SPEC_FILES[version]).read_text(encoding="utf-8").replace(_COMMON_REF, "#")
    )
    common = json.loads(files.joinpath(COMMON_FILES[version]).read_text(encoding="utf-8"))
    for name, schema in common["components"]["schemas"].items():
        spec["components"]["schemas"].setdefault(name, schema)
    return spec


def _schema(spec: dict[str, Any], node: dict[str, Any] | None) -> dict[str, Any]:
    """Follow a local ``$ref`` (the only kind contacts.json uses for bodies)."""
    node = node or {}
    ref = node.get("$ref")
    if ref and ref.startswith("#/components/schemas/"):
        return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return node


def _simple_type(prop: dict[str, Any]) -> str | None:
    if "type" in prop:
        return str(prop["type"])
    return "object" if "$ref" in prop else None


@cache
def operations(version: str = V2) -> dict[tuple[str, str], Operation]:
    """
    Return every Contacts operation of a version's spec keyed by ``(METHOD, path template)``.

    :param version: ``2021-07-28`` or ``v3``.
    """
    spec = load_spec(version)
    result: dict[tuple[str, str], Operation] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            security = op.get("security") or [{}]
            scopes = [s for block in security for values in block.values() for s in values]
            scope = scopes[0] if scopes else "contacts.write"
            status = min(int(code) for code in op["responses"] if code.startswith("2"))
            success = op["responses"][str(status)]
            envelope_schema = _schema(
                spec, success.get("content", {}).get("application/json", {}).get("schema")
            )
            body = None
            if "requestBody" in op:
                body_schema = _schema(spec, op["requestBody"]["content"]["application/json"]["schema"])
                body = BodySchema(
                    properties={k: _simple_type(v) for k, v in body_schema.get("properties", {}).items()},
                    required=tuple(body_schema.get("required", ())),
                    nullable=frozenset(
                        k for k, v in body_schema.get("properties", {}).items() if v.get("nullable")
                    ),
                )
            result[(method.upper(), path)] = Operation(
                method=method.upper(),
                path=path,
                scope=scope,
                status=status,
                body=body,
                envelope=tuple(envelope_schema.get("properties", {})),
                query=tuple(p["name"] for p in op.get("parameters", ()) if p.get("in") == "query"),
                required_query=tuple(
                    p["name"]
                    for p in op.get("parameters", ())
                    if p.get("in") == "query" and p.get("required")
                ),
            )
    return result

"""The Locations API's task search, ``POST /locations/{locationId}/tasks/search``, as ``locations.json`` says.

``locations.json`` is the verbatim ``apps/locations.json`` of ``GoHighLevel/highlevel-api-docs``; the route
takes its body schema (``TaskSearchParamsDto``), ``Version`` values and scope from it. The answer is
``{"tasks": [...]}`` with no total (the spec's ``LocationTaskListSuccessfulResponseDto``), paged with
``skip``/``limit`` in a stable order (the task id).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from .errors import ApiError, unprocessable
from .routes import Call, route
from .spec import BodySchema

SPEC_FILE = "locations.json"
PATH = "/locations/{locationId}/tasks/search"
SCOPE = "locations/tasks.readonly"
DEFAULT_LIMIT = 25  # the spec's default


@cache
def _operation() -> tuple[BodySchema, tuple[str, ...], str]:
    spec = json.loads(resources.files(__package__).joinpath(SPEC_FILE).read_text(encoding="utf-8"))
    op = spec["paths"][PATH]["post"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    body = BodySchema(
        properties={name: prop.get("type") for name, prop in schema.get("properties", {}).items()},
        required=tuple(schema.get("required", ())),
    )
    versions = next(p for p in op["parameters"] if p["name"] == "Version")["schema"]["enum"]
    scope = op["security"][0]["bearer"][0]
    return body, tuple(versions), scope


BODY, VERSIONS, _SPEC_SCOPE = _operation()
assert _SPEC_SCOPE == SCOPE


def _count(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise unprocessable(f"{name} must be a whole number not less than 0")
    return value


def _ids(body: dict[str, Any], name: str) -> list[str] | None:
    values = body.get(name)
    if values is None:
        return None
    if any(not isinstance(v, str) or not v for v in values):
        raise unprocessable(f"each value in {name} must be a non-empty string")
    return values


# The sandbox's tokens carry the contacts scopes only; the route accepts them as well as the real scope.
@route("POST", PATH, scope=SCOPE, body=BODY, versions=VERSIONS)
async def search_tasks(call: Call) -> dict[str, Any]:
    assert call.principal is not None
    if not call.principal.scopes & {SCOPE, "contacts.readonly", "contacts.write"}:
        raise ApiError(401, f"The token is not authorized for this scope: {SCOPE} is missing")
    location = call.sb.check_location(call.location, call.params["locationId"])
    body = call.body
    limit, skip = _count(body, "limit", DEFAULT_LIMIT), _count(body, "skip", 0)
    where = ["ch.kind = 'task'", "c.location_id = ?"]
    params: list[Any] = [location]
    for name, expression in (
        ("contactId", "ch.contact_id"),
        ("assignedTo", "json_extract(ch.doc, '$.assignedTo')"),
    ):
        values = _ids(body, name)
        if values is not None:
            if not values:
                return {"tasks": []}
            where.append(f"{expression} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    if body.get("completed") is not None:
        where.append("COALESCE(json_extract(ch.doc, '$.completed'), 0) = ?")
        params.append(1 if body["completed"] else 0)
    if body.get("query"):
        where.append("instr(lower(json_extract(ch.doc, '$.title')), ?) > 0")
        params.append(str(body["query"]).lower())
    if body.get("businessId"):
        where.append("c.business_id = ?")
        params.append(body["businessId"])
    sql = (
        "SELECT ch.doc FROM children ch JOIN contacts c ON c.id = ch.contact_id "
        f"WHERE {' AND '.join(where)} ORDER BY ch.id LIMIT ? OFFSET ?"
    )
    rows = call.sb.store.db.execute(sql, [*params, limit, skip]).fetchall()
    return {"tasks": [json.loads(row[0]) for row in rows]}

"""The location's directory beyond Contacts, for the use cases that name businesses, users and workflows.

- **Businesses** (``apps/businesses.json`` of ``GoHighLevel/highlevel-api-docs``): ``GET /businesses/``
  (``locationId`` required, ``limit``/``skip`` strings, default 100/0) answers ``{businesses}``;
  ``POST /businesses/`` takes ``CreateBusinessDto`` and answers 201 ``{success, buiseness}`` (the spec's
  spelling); ``GET /businesses/{businessId}`` answers ``{business}``. The sandbox's business ids (the ones
  seeded contacts carry in ``businessId``) are the location's first businesses.
- **Users** (Users API, ``GET /users/?locationId=``, scope ``users.readonly``): ``{users: [...]}`` with the
  id, names, e-mail and role of each of the sandbox's users (the ids tasks and contacts are assigned to).
- **Workflows** (Workflows API, ``GET /workflows/?locationId=``, scope ``workflows.readonly``):
  ``{workflows: [...]}`` with id, name, status and version of each workflow a contact can be added to.

The scopes are declared as the real API names them; the sandbox enforces only the Contacts scopes.
An admin route, ``GET /_sandbox/memberships?contactId=``, shows a contact's campaigns and workflows, which
the API itself never lists, so tests can check what a DAG changed.
"""

from __future__ import annotations

from typing import Any

from .clock import iso, now_ms
from .errors import not_found, unprocessable
from .model import Sandbox
from .routes import Call, _int_query, route
from .seed import FIRST, LAST
from .spec import BodySchema

VERSIONS = ("2021-07-28",)
BUSINESS = "business"  # kind of the stored business documents (kept per location, like a contact's children)
_BUSINESS_FIELDS = (
    "name",
    "phone",
    "email",
    "website",
    "address",
    "city",
    "postalCode",
    "state",
    "country",
    "description",
)
#: ``CreateBusinessDto``: every field a string, ``name`` and ``locationId`` required.
CREATE_BUSINESS = BodySchema(
    properties={name: "string" for name in (*_BUSINESS_FIELDS, "locationId")},
    required=("name", "locationId"),
)
_SUFFIXES = ("Ltd", "Inc", "GmbH", "LLC")


def _business(sb: Sandbox, business_id: str, location_id: str, stamp: str, **fields: Any) -> dict[str, Any]:
    user = {"source": "INTEGRATION", "channel": "OAUTH", "userId": sb.user_ids[0], "timestamp": stamp}
    doc = {name: None for name in _BUSINESS_FIELDS}
    doc.update(fields)
    return {
        "id": business_id,
        **doc,
        "locationId": location_id,
        "contactId": location_id,  # the store keeps businesses under their location
        "createdBy": user,
        "updatedBy": user,
        "createdAt": stamp,
        "updatedAt": stamp,
    }


def businesses(sb: Sandbox, location_id: str) -> list[dict[str, Any]]:
    """
    The location's businesses, oldest first; the sandbox's seeded ones are made on first use.

    :param sb: the sandbox.
    :param location_id: the location (already checked).
    """
    docs = sb.store.children(BUSINESS, location_id)
    if not docs and location_id == sb.location_id:
        stamp = iso(now_ms())
        docs = [
            _business(sb, ref, location_id, stamp, name=f"{LAST[i * 3 % len(LAST)]} {_SUFFIXES[i % 4]}")
            for i, ref in enumerate(sb.business_ids)
        ]
        sb.store.put_children(BUSINESS, docs)
    return docs


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "contactId"}


@route(
    "GET",
    "/businesses/",
    scope="businesses.readonly",
    query=("locationId", "limit", "skip"),
    versions=VERSIONS,
)
async def list_businesses(call: Call) -> dict[str, Any]:
    location = call.query_location()
    limit = _int_query(call, "limit", 100) or 100
    skip = _int_query(call, "skip", 0)
    return {"businesses": [_public(d) for d in businesses(call.sb, location)[skip : skip + limit]]}


@route(
    "POST",
    "/businesses/",
    scope="businesses.write",
    status=201,
    body=CREATE_BUSINESS,
    versions=VERSIONS,
)
async def create_business(call: Call) -> dict[str, Any]:
    body = dict(call.body)
    location = call.sb.check_location(call.location, body.pop("locationId"))
    if not str(body["name"]).strip():
        raise unprocessable("name should not be empty")
    businesses(call.sb, location)
    doc = _business(call.sb, call.sb.new_id(), location, iso(now_ms()), **body)
    call.sb.store.put_children(BUSINESS, [doc])
    return {"success": True, "buiseness": _public(doc)}


@route("GET", "/businesses/{businessId}", scope="businesses.readonly", versions=VERSIONS)
async def get_business(call: Call) -> dict[str, Any]:
    for doc in businesses(call.sb, call.location):
        if doc["id"] == call.params["businessId"]:
            return {"business": _public(doc)}
    raise not_found("Business")


def users(sb: Sandbox) -> list[dict[str, Any]]:
    """
    The sandbox's users, with names and e-mails that stay the same for the same ids.

    :param sb: the sandbox.
    """
    out = []
    for i, ref in enumerate(sb.user_ids):
        first, last = FIRST[i * 7 % len(FIRST)], LAST[i * 5 % len(LAST)]
        out.append(
            {
                "id": ref,
                "name": f"{first} {last}",
                "firstName": first,
                "lastName": last,
                "email": f"{first}.{last}@agents.test".lower().replace("-", ""),
                "phone": f"+1555020{i:04d}",
                "extension": "",
                "permissions": {},
                "roles": {
                    "type": "account",
                    "role": "admin" if i == 0 else "user",
                    "locationIds": [sb.location_id],
                },
            }
        )
    return out


@route("GET", "/users/", scope="users.readonly", query=("locationId",), versions=VERSIONS)
async def list_users(call: Call) -> dict[str, Any]:
    call.query_location()
    return {"users": users(call.sb)}


@route("GET", "/workflows/", scope="workflows.readonly", query=("locationId",), versions=VERSIONS)
async def list_workflows(call: Call) -> dict[str, Any]:
    location = call.query_location()
    stamp = iso(now_ms() - 90 * 86_400_000)
    names = ("Welcome series", "Re-engagement", "Appointment reminders")
    return {
        "workflows": [
            {
                "id": ref,
                "name": names[i % len(names)],
                "status": "published",
                "version": 1,
                "createdAt": stamp,
                "updatedAt": stamp,
                "locationId": location,
            }
            for i, ref in enumerate(call.sb.workflow_ids)
        ]
    }


@route("GET", "/_sandbox/memberships", kind="admin")
async def memberships(call: Call) -> dict[str, Any]:
    contact_id = call.query.get("contactId") or ""
    return {
        "campaigns": [m["campaignId"] for m in call.sb.store.children("campaign", contact_id)],
        "workflows": [m["workflowId"] for m in call.sb.store.children("workflow", contact_id)],
    }

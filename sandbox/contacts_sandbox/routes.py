"""The sandbox's routes: every Contacts operation of the spec, two helpers beyond Contacts, OAuth, admin.

Each route is declared once with :func:`route`; the declaration carries what the ASGI layer needs before
the handler runs (kind of route, scope, success status, body and query schema from the official spec).
Handlers receive a :class:`Call` and return the success body; errors are raised as :class:`ApiError`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .auth import COMPANY_ID, OAuthError, Principal
from .clock import iso, now_ms, parse_time
from .errors import AipError, ApiError, not_found, unprocessable
from .model import OTHER_LOCATION_ID, Sandbox, dedupe
from .search import SEARCH_BODY_KEYS
from .seed import event_doc
from .spec import V2, V3, BodySchema, operations
from .versions import CONTACT_VERSIONS, oauth_error, token_answer

Handler = Callable[["Call"], Awaitable[Any]]


@dataclass(frozen=True)
class RouteDef:
    """
    One route.

    :param method: HTTP method.
    :param path: path template.
    :param handler: the coroutine answering it.
    :param kind: ``api`` (auth, limits, faults), ``oauth`` or ``admin`` (neither).
    :param scope: OAuth scope it needs (api routes).
    :param status: success status.
    :param body: allowed body, or None for no body.
    :param query: allowed query parameters, or None to accept any.
    :param required_query: query parameters that must be present.
    :param versions: accepted ``Version`` header values.
    :param envelope: the top-level keys of the success body in the spec.
    :param form: the body is a form (``application/x-www-form-urlencoded``), read into ``Call.form``.
    :param variants: for a Contacts route, the route as each version's spec declares it (scope, status,
        body, query), keyed by ``Version``; empty for the others.
    """

    method: str
    path: str
    handler: Handler
    kind: str = "api"
    scope: str | None = None
    status: int = 200
    body: BodySchema | None = None
    query: tuple[str, ...] | None = None
    required_query: tuple[str, ...] = ()
    versions: tuple[str, ...] = (V2,)
    envelope: tuple[str, ...] = ()
    form: bool = False
    variants: Mapping[str, RouteDef] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        """``METHOD /template``, the key of the stats."""
        return f"{self.method} {self.path}"

    def for_version(self, version: str) -> RouteDef:
        """
        Return the route as the spec of ``version`` declares it (itself when it has no variants).

        :param version: the request's ``Version`` header.
        """
        return self.variants.get(version, self)


ROUTES: list[RouteDef] = []
#: Versions accepted on the routes beyond Contacts (calendars use 2021-04-15 on the real API).
OTHER_VERSIONS = ("2021-04-15", "2021-07-28", "2023-02-21")


def route(method: str, path: str, **overrides: Any) -> Callable[[Handler], Handler]:
    """
    Declare a route; a Contacts route takes its scope, status, body and query schema from each version's spec.

    A Contacts route answers the versions whose spec has its method and path, each as that spec says.

    :param method: HTTP method.
    :param path: path template as written in the spec.
    :param overrides: fields of :class:`RouteDef` to set or replace (in every version).
    """

    def register(handler: Handler) -> Handler:
        variants: dict[str, RouteDef] = {}
        for version in CONTACT_VERSIONS:
            op = operations(version).get((method, path))
            if op is None:
                continue
            fields: dict[str, Any] = {
                "scope": op.scope,
                "status": op.status,
                "body": op.body,
                # NestJS validates a query only where the operation has a query DTO.
                "query": op.query or None,
                "required_query": op.required_query,
                "envelope": op.envelope,
                "versions": (version,),
            }
            fields.update(overrides)
            variants[version] = RouteDef(method, path, handler, **fields)
        if variants:
            first = next(iter(variants.values()))
            ROUTES.append(dataclasses.replace(first, versions=tuple(variants), variants=variants))
        else:
            ROUTES.append(RouteDef(method, path, handler, **overrides))
        return handler

    return register


@dataclass
class Call:
    """
    One request, as a handler sees it.

    :param sb: the sandbox.
    :param principal: who the token speaks for (None on admin/oauth routes).
    :param params: path parameters.
    :param query: query parameters.
    :param body: the validated JSON body ({} when none).
    :param base_url: scheme://host:port of the request.
    :param form: form fields (``/oauth/token``).
    :param version: the request's ``Version`` header.
    """

    sb: Sandbox
    principal: Principal | None
    params: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any]
    base_url: str
    form: dict[str, str] | None = None
    version: str = V2

    @property
    def location(self) -> str:
        """The token's location."""
        assert self.principal is not None
        return self.principal.location_id

    def contact(self) -> dict[str, Any]:
        """Return the path's contact (404 unknown, 403 another location's)."""
        return self.sb.contact(self.location, self.params["contactId"])

    def query_location(self) -> str:
        """Return the checked ``locationId`` query parameter."""
        return self.sb.check_location(self.location, self.query.get("locationId"))


_TYPE_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (lambda v: isinstance(v, str), "must be a string"),
    "boolean": (lambda v: isinstance(v, bool), "must be a boolean value"),
    "array": (lambda v: isinstance(v, list), "must be an array"),
    "number": (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "must be a number"),
}


def validate(schema: BodySchema | None, body: Any, *, kind: str = "body") -> dict[str, Any]:
    """
    Check a body (or query) like NestJS's whitelist validation pipe does, listing every problem in one 422.

    :param schema: allowed and required properties; None allows nothing.
    :param body: the decoded JSON.
    :param kind: ``body`` or ``query`` (only changes nothing but the wording of a non-object body).
    """
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise unprocessable(f"{kind} must be a JSON object")
    allowed = schema.properties if schema else {}
    problems = [f"property {k} should not exist" for k in body if k not in allowed]
    for name in schema.required if schema else ():
        if body.get(name) is None or body.get(name) == "":
            if name in body and body[name] is None and schema and name in schema.nullable:
                continue  # explicitly nullable (bulk business ``businessId: null`` removes the business)
            problems.append(f"{name} should not be empty")
    for name, value in body.items():
        check = _TYPE_CHECKS.get(allowed.get(name) or "")
        if check and value is not None and not check[0](value):
            problems.append(f"{name} {check[1]}")
    if problems:
        raise unprocessable(*problems)
    return body


def _string_list(body: dict[str, Any], name: str) -> list[str]:
    values = body.get(name)
    if not isinstance(values, list) or any(not isinstance(v, str) or not v for v in values):
        raise unprocessable(f"each value in {name} must be a non-empty string")
    return values


def _int_query(call: Call, name: str, default: int, maximum: int | None = None) -> int:
    raw = call.query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise unprocessable(f"{name} must be an integer number") from exc
    if value < 0:
        raise unprocessable(f"{name} must not be less than 0")
    if maximum is not None and value > maximum:
        raise unprocessable(f"{name} must not be greater than {maximum}")
    return value


def _text_condition(query: str | None, params: list[Any]) -> str:
    if not query:
        return ""
    params.append(query.lower())
    return " AND instr(c.search_text, ?) > 0"


# -- contacts ---------------------------------------------------------------------------------------
@route("GET", "/contacts/{contactId}")
async def get_contact(call: Call) -> dict[str, Any]:
    return {"contact": call.contact()}


@route("POST", "/contacts/")
async def create_contact(call: Call) -> dict[str, Any]:
    location = call.sb.check_location(call.location, call.body.get("locationId"))
    return {"contact": call.sb.create_contact(location, call.body)}


@route("PUT", "/contacts/{contactId}")
async def update_contact(call: Call) -> dict[str, Any]:
    return {"succeded": True, "contact": call.sb.update_contact(call.contact(), call.body)}


@route("DELETE", "/contacts/{contactId}")
async def delete_contact(call: Call) -> dict[str, Any]:
    call.sb.store.delete_contact(call.contact()["id"])
    return {"succeded": True}


@route("POST", "/contacts/upsert")
async def upsert_contact(call: Call) -> dict[str, Any]:
    location = call.sb.check_location(call.location, call.body.get("locationId"))
    if not call.body.get("email") and not call.body.get("phone"):
        # Our assumption: the real API needs an email or a phone to match on (docs/api-behaviour.md, Upserts).
        raise unprocessable("email or phone is required to upsert a contact")
    doc, new = call.sb.upsert_contact(location, call.body)
    return {"new": new, "contact": doc}


_SEARCH_SCHEMA = BodySchema(
    properties={k: None for k in SEARCH_BODY_KEYS}, required=("locationId", "pageLimit")
)


@route("POST", "/contacts/search", body=_SEARCH_SCHEMA)
async def search_contacts(call: Call) -> dict[str, Any]:
    location = call.sb.check_location(call.location, call.body.get("locationId"))
    rows, total = call.sb.store.search(call.sb.search.compile(call.body, location))
    contacts = []
    for doc, sort_values in rows:
        doc["searchAfter"] = sort_values
        contacts.append(doc)
    return {"contacts": contacts, "total": total}


@route("GET", "/contacts/search/duplicate")
async def find_duplicate(call: Call) -> dict[str, Any]:
    location = call.query_location()
    number = call.query.get("number")
    if number and number.startswith(" "):
        number = "+" + number.strip()  # an unencoded "+" arrives as a space
    if not call.query.get("email") and not number:
        # 400, the status the spec declares (the real answer to a lookup by nothing is undocumented).
        raise ApiError(400, "email or number is required")
    match = call.sb.duplicate_of(location, call.query.get("email"), number)
    return {"contact": match[0] if match else None}


@route("GET", "/contacts/")
async def list_contacts(call: Call) -> dict[str, Any]:
    location = call.query_location()
    limit = _int_query(call, "limit", 20, 100) or 20
    params: list[Any] = [location]
    where = "c.location_id = ?" + _text_condition(call.query.get("query"), params)
    total = call.sb.store.count(where, params)
    after_ms, after_id = call.query.get("startAfter"), call.query.get("startAfterId")
    page_where, page_params = where, list(params)
    if after_ms or after_id:
        try:
            ms = parse_time(after_ms) if after_ms else None
        except ValueError as exc:
            raise unprocessable("startAfter must be a number (epoch milliseconds)") from exc
        if ms is None and after_id:
            anchor = call.sb.store.get_contact(after_id)
            ms = parse_time(anchor["dateAdded"]) if anchor else None
        if ms is not None:
            page_where += " AND (c.date_added < ? OR (c.date_added = ? AND c.id < ?))"
            page_params += [ms, ms, after_id or "\uffff"]
    docs = call.sb.store.contacts_page(page_where, page_params, "c.date_added DESC, c.id DESC", limit + 1)
    more = len(docs) > limit
    docs = docs[:limit]
    meta: dict[str, Any] = {
        "total": total,
        "nextPageUrl": None,
        "startAfterId": None,
        "startAfter": None,
        "currentPage": None,
        "nextPage": None,
        "prevPage": None,
    }
    if more and docs:
        last = docs[-1]
        meta["startAfterId"] = last["id"]
        meta["startAfter"] = parse_time(last["dateAdded"])
        query = {
            "locationId": location,
            "limit": limit,
            "startAfter": meta["startAfter"],
            "startAfterId": last["id"],
        }
        if call.query.get("query"):
            query["query"] = call.query["query"]
        meta["nextPageUrl"] = f"{call.base_url}/contacts/?{urlencode(query)}"
    return {"contacts": docs, "count": total, "meta": meta}


@route("GET", "/contacts/business/{businessId}")
async def business_contacts(call: Call) -> dict[str, Any]:
    location = call.query_location()
    limit = _int_query(call, "limit", 25, 100) or 25
    skip = _int_query(call, "skip", 0)
    params: list[Any] = [location, call.params["businessId"]]
    where = "c.location_id = ? AND c.business_id = ?" + _text_condition(call.query.get("query"), params)
    docs = call.sb.store.contacts_page(where, params, "c.date_added DESC, c.id DESC", limit, skip)
    return {"contacts": docs, "count": call.sb.store.count(where, params)}


# -- tags -------------------------------------------------------------------------------------------
@route("POST", "/contacts/{contactId}/tags")
async def add_tags(call: Call) -> dict[str, Any]:
    doc = call.contact()
    doc["tags"] = dedupe([*doc["tags"], *(t.strip() for t in _string_list(call.body, "tags"))])
    return {"tags": call.sb.touch(doc)["tags"]}


@route("DELETE", "/contacts/{contactId}/tags")
async def remove_tags(call: Call) -> dict[str, Any]:
    doc = call.contact()
    gone = set(_string_list(call.body, "tags"))
    doc["tags"] = [t for t in doc["tags"] if t not in gone]
    return {"tags": call.sb.touch(doc)["tags"]}


@route("POST", "/contacts/bulk/tags/update/{type}")
async def bulk_tags(call: Call) -> dict[str, Any]:
    action = call.params["type"]
    if action not in ("add", "remove"):
        raise unprocessable("type must be one of the following values: add, remove")
    call.sb.check_location(call.location, call.body.get("locationId"))
    ids = _string_list(call.body, "contacts")
    tags = [t.strip() for t in call.body.get("tags") or [] if isinstance(t, str)]
    remove_all = bool(call.body.get("removeAllTags"))
    if remove_all and action != "remove":
        raise unprocessable("removeAllTags can only be used with remove type")
    if len(ids) > 500:
        raise unprocessable("contacts must contain no more than 500 elements")
    responses: list[dict[str, Any]] = []
    for contact_id in ids:
        doc = call.sb.store.get_contact(contact_id)
        if len(contact_id) != 20 or not contact_id.isalnum():
            responses.append(
                {"contactId": contact_id, "message": "contact id is not a valid firebase id", "type": "error"}
            )
        elif doc is None:
            responses.append({"contactId": contact_id, "message": "contact is deleted", "type": "error"})
        elif doc["locationId"] != call.location:
            responses.append(
                {"contactId": contact_id, "message": "contact does not belong to location", "type": "error"}
            )
        else:
            old = list(doc["tags"])
            if action == "add":
                doc["tags"] = dedupe([*old, *tags])
                change = {"tagsAdded": [t for t in doc["tags"] if t not in old]}
            else:
                doc["tags"] = [] if remove_all else [t for t in old if t not in set(tags)]
                change = {"tagsRemoved": [t for t in old if t not in doc["tags"]]}
            call.sb.touch(doc)
            responses.append(
                {"contactId": contact_id, "message": "success", "type": "success", "oldTags": old, **change}
            )
    errors = sum(r["type"] == "error" for r in responses)
    return {"succeded": errors == 0, "errorCount": errors, "responses": responses}


@route("POST", "/contacts/bulk/business")
async def bulk_business(call: Call) -> dict[str, Any]:
    call.sb.check_location(call.location, call.body.get("locationId"))
    ids = _string_list(call.body, "ids")
    business_id = call.body.get("businessId")
    if business_id is not None and not isinstance(business_id, str):
        raise unprocessable("businessId must be a string or null")
    done = []
    for contact_id in ids:
        doc = call.sb.store.get_contact(contact_id)
        if doc is not None and doc["locationId"] == call.location:
            doc["businessId"] = business_id or None
            call.sb.touch(doc)
            done.append(contact_id)
    return {"success": True, "ids": done}


# -- notes and tasks --------------------------------------------------------------------------------
@route("GET", "/contacts/{contactId}/notes")
async def get_notes(call: Call) -> dict[str, Any]:
    return {"notes": call.sb.store.children("note", call.contact()["id"])}


@route("POST", "/contacts/{contactId}/notes")
async def create_note(call: Call) -> dict[str, Any]:
    contact = call.contact()
    note = {
        "id": call.sb.new_id(),
        "body": None,
        "userId": None,
        "dateAdded": iso(now_ms()),
        "contactId": contact["id"],
        "title": None,
        "color": None,
        "pinned": False,
        **call.body,
    }
    call.sb.store.put_children("note", [note])
    return {"note": note}


@route("GET", "/contacts/{contactId}/notes/{id}")
async def get_note(call: Call) -> dict[str, Any]:
    return {"note": call.sb.child("note", call.contact()["id"], call.params["id"], "Note")}


@route("PUT", "/contacts/{contactId}/notes/{id}")
async def update_note(call: Call) -> dict[str, Any]:
    note = call.sb.child("note", call.contact()["id"], call.params["id"], "Note")
    note.update(call.body)
    call.sb.store.put_children("note", [note])
    return {"note": note}


@route("DELETE", "/contacts/{contactId}/notes/{id}")
async def delete_note(call: Call) -> dict[str, Any]:
    call.sb.child("note", call.contact()["id"], call.params["id"], "Note")
    call.sb.store.delete_children("note", call.params["contactId"], call.params["id"])
    return {"succeded": True}


def _task_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = dict(body)
    if "dueDate" in fields:
        try:
            fields["dueDate"] = iso(parse_time(fields["dueDate"]))
        except (ValueError, TypeError) as exc:
            raise unprocessable("dueDate must be a valid ISO 8601 date string") from exc
    return fields


@route("GET", "/contacts/{contactId}/tasks")
async def get_tasks(call: Call) -> dict[str, Any]:
    return {"tasks": call.sb.store.children("task", call.contact()["id"])}


@route("POST", "/contacts/{contactId}/tasks")
async def create_task(call: Call) -> dict[str, Any]:
    contact = call.contact()
    stamp = iso(now_ms())
    task = {
        "id": call.sb.new_id(),
        "title": None,
        "body": None,
        "assignedTo": None,
        "dueDate": None,
        "completed": False,
        "contactId": contact["id"],
        **_task_fields(call.body),
        "dateAdded": stamp,
        "dateUpdated": stamp,
    }
    call.sb.store.put_children("task", [task])
    return {"task": task}


@route("GET", "/contacts/{contactId}/tasks/{taskId}")
async def get_task(call: Call) -> dict[str, Any]:
    return {"task": call.sb.child("task", call.contact()["id"], call.params["taskId"], "Task")}


async def _change_task(call: Call) -> dict[str, Any]:
    task = call.sb.child("task", call.contact()["id"], call.params["taskId"], "Task")
    task.update(_task_fields(call.body), dateUpdated=iso(now_ms()))
    call.sb.store.put_children("task", [task])
    return {"task": task}


route("PUT", "/contacts/{contactId}/tasks/{taskId}")(_change_task)
route("PUT", "/contacts/{contactId}/tasks/{taskId}/completed")(_change_task)


@route("DELETE", "/contacts/{contactId}/tasks/{taskId}")
async def delete_task(call: Call) -> dict[str, Any]:
    call.sb.child("task", call.contact()["id"], call.params["taskId"], "Task")
    call.sb.store.delete_children("task", call.params["contactId"], call.params["taskId"])
    return {"succeded": True}


@route("GET", "/contacts/{contactId}/appointments")
async def get_appointments(call: Call) -> dict[str, Any]:
    return {"events": call.sb.store.children("event", call.contact()["id"])}


# -- campaigns, workflows, followers ----------------------------------------------------------------
def _membership(call: Call, kind: str, key: str, known: list[str]) -> tuple[str, str]:
    contact_id = call.contact()["id"]
    ref = call.params[key]
    if ref not in known:
        # Our assumption: the real API's answer for an unknown campaign/workflow is undocumented.
        raise not_found(kind.capitalize())
    return contact_id, ref


# ``removeAll`` (2021-07-28) and ``remove-all`` (v3) are declared before ``{campaignId}`` so the literal
# segment wins; each exists only in its own version's spec.
async def remove_all_campaigns(call: Call) -> dict[str, Any]:
    call.sb.store.delete_children("campaign", call.contact()["id"])
    return {"succeded": True}


route("DELETE", "/contacts/{contactId}/campaigns/removeAll")(remove_all_campaigns)
route("DELETE", "/contacts/{contactId}/campaigns/remove-all")(remove_all_campaigns)


@route("POST", "/contacts/{contactId}/campaigns/{campaignId}")
async def add_to_campaign(call: Call) -> dict[str, Any]:
    contact_id, ref = _membership(call, "campaign", "campaignId", call.sb.campaign_ids)
    call.sb.store.put_children(
        "campaign", [{"id": f"{contact_id}:{ref}", "contactId": contact_id, "campaignId": ref}]
    )
    return {"succeded": True}


@route("DELETE", "/contacts/{contactId}/campaigns/{campaignId}")
async def remove_from_campaign(call: Call) -> dict[str, Any]:
    contact_id, ref = _membership(call, "campaign", "campaignId", call.sb.campaign_ids)
    call.sb.store.delete_children("campaign", contact_id, f"{contact_id}:{ref}")
    return {"succeded": True}


def _event_start(call: Call) -> str | None:
    value = call.body.get("eventStartTime")
    if value in (None, ""):
        return None
    try:
        return iso(parse_time(value))
    except (ValueError, TypeError) as exc:
        raise unprocessable("eventStartTime must be a valid ISO 8601 date string") from exc


@route("POST", "/contacts/{contactId}/workflow/{workflowId}")
async def add_to_workflow(call: Call) -> dict[str, Any]:
    contact_id, ref = _membership(call, "workflow", "workflowId", call.sb.workflow_ids)
    member = {
        "id": f"{contact_id}:{ref}",
        "contactId": contact_id,
        "workflowId": ref,
        "eventStartTime": _event_start(call),
    }
    call.sb.store.put_children("workflow", [member])
    return {"succeded": True}


@route("DELETE", "/contacts/{contactId}/workflow/{workflowId}")
async def remove_from_workflow(call: Call) -> dict[str, Any]:
    contact_id, ref = _membership(call, "workflow", "workflowId", call.sb.workflow_ids)
    _event_start(call)
    call.sb.store.delete_children("workflow", contact_id, f"{contact_id}:{ref}")
    return {"succeded": True}


@route("POST", "/contacts/{contactId}/followers")
async def add_followers(call: Call) -> dict[str, Any]:
    doc = call.contact()
    wanted = _string_list(call.body, "followers")
    added = [f for f in dedupe(wanted) if f not in doc["followers"]]
    doc["followers"] = [*doc["followers"], *added]
    call.sb.touch(doc)
    return {"followers": doc["followers"], "followersAdded": added}


@route("DELETE", "/contacts/{contactId}/followers")
async def remove_followers(call: Call) -> dict[str, Any]:
    doc = call.contact()
    gone = set(_string_list(call.body, "followers"))
    removed = [f for f in doc["followers"] if f in gone]
    doc["followers"] = [f for f in doc["followers"] if f not in gone]
    call.sb.touch(doc)
    return {"followers": doc["followers"], "followersRemoved": removed}


# -- beyond Contacts --------------------------------------------------------------------------------
@route(
    "GET",
    "/locations/{locationId}/customFields",
    scope="contacts.readonly",
    query=("model",),
    versions=OTHER_VERSIONS,
)
async def custom_fields(call: Call) -> dict[str, Any]:
    # The real route needs scope locations/customFields.readonly; the sandbox accepts a contacts token.
    call.sb.check_location(call.location, call.params["locationId"])
    model = call.query.get("model", "contact")
    # One set of definitions serves every location of the company, under the caller's location id.
    return {
        "customFields": [
            {**f, "locationId": call.location} for f in call.sb.custom_fields if model in ("all", f["model"])
        ]
    }


_APPOINTMENT_SCHEMA = BodySchema(
    properties={
        "calendarId": "string",
        "locationId": "string",
        "contactId": "string",
        "startTime": "string",
        "endTime": "string",
        "title": "string",
        "appointmentStatus": "string",
        "assignedUserId": "string",
        "address": "string",
        "notes": "string",
        "meetingLocationType": "string",
        "ignoreDateRange": "boolean",
        "toNotify": "boolean",
        "ignoreFreeSlotValidation": "boolean",
    },
    required=("calendarId", "locationId", "contactId", "startTime"),
)


@route(
    "POST",
    "/calendars/events/appointments",
    scope="contacts.write",
    status=201,
    body=_APPOINTMENT_SCHEMA,
    versions=OTHER_VERSIONS,
)
async def create_appointment(call: Call) -> dict[str, Any]:
    body = dict(call.body)
    location = call.sb.check_location(call.location, body.pop("locationId"))
    contact = call.sb.contact(location, body.pop("contactId"))
    if body["calendarId"] not in call.sb.calendar_ids:
        raise not_found("Calendar")
    try:
        start = parse_time(body.pop("startTime"))
        end = parse_time(body.pop("endTime")) if body.get("endTime") else start + 1_800_000
    except (ValueError, TypeError) as exc:
        raise unprocessable("startTime and endTime must be valid ISO 8601 date strings") from exc
    for flag in ("ignoreDateRange", "toNotify", "ignoreFreeSlotValidation", "meetingLocationType"):
        body.pop(flag, None)
    event = event_doc(
        call.sb.new_id(),
        call.sb,
        contact["id"],
        location,
        start,
        end,
        body.pop("title", None) or "Appointment",
        **body,
    )
    call.sb.store.put_children("event", [event])
    return event


# -- OAuth --------------------------------------------------------------------------------------------
@route("POST", "/oauth/token", kind="oauth")
async def oauth_token(call: Call) -> dict[str, Any]:
    try:
        return token_answer(call.version, call.sb.auth.exchange(call.form or {}))
    except OAuthError as exc:
        raise oauth_error(call.version, exc) from exc


# v3's agency routes (oauth-v3.json); v2's below. The company's locations: ``--locations`` installed, one not.
@route("POST", "/oauth/location-token", scope="oauth.write", versions=(V3,), form=True)
async def location_token(call: Call) -> dict[str, Any]:
    assert call.principal is not None
    form = call.form or {}
    try:
        answer = call.sb.auth.location_token(
            call.principal, form.get("companyId", ""), form.get("locationId", "")
        )
    except OAuthError as exc:
        raise oauth_error(call.version, exc) from exc
    keys = ("access_token", "token_type", "expires_in", "scope", "locationId", "planId", "userId")
    picked = {k: answer[k] for k in keys if k in answer}
    return token_answer(
        call.version,
        {
            **picked,
            "appId": call.sb.app_id,
            "versionId": call.sb.app_id,
            "refresh_token": answer["refresh_token"],
        },
    )


_INSTALLED_QUERY = (
    "pageSize",
    "pageToken",
    "query",
    "isInstalled",
    "restrictToUserLocations",
    "companyId",
    "appId",
    "versionId",
    "onTrial",
    "planId",
    "locationId",
)


@route(
    "GET",
    "/oauth/installed-locations",
    scope="oauth.readonly",
    versions=(V3,),
    query=_INSTALLED_QUERY,
    required_query=("companyId", "appId"),
)
async def installed_locations(call: Call) -> dict[str, Any]:
    assert call.principal is not None
    if call.principal.user_type != "Company":
        raise ApiError(401, "This route needs an Agency (Company) access token")
    app_id = call.query["appId"]
    if app_id != call.sb.app_id:
        raise AipError(
            404,
            "RESOURCE_NOT_FOUND",
            f"The requested App '{app_id}' was not found.",
            {"resource": "App", "identifier": app_id},
            "Verify the App exists and you have permission to access it.",
        )
    try:
        size = int(call.query.get("pageSize") or 20)
        offset = int(call.query.get("pageToken") or 0)
    except ValueError:
        size = offset = -1
    if not 1 <= size <= 100 or offset < 0 or call.query["companyId"] != COMPANY_ID:
        raise AipError(
            400,
            "INVALID_ARGUMENT",
            "pageSize must be 1-100, pageToken one this API returned, companyId the token's company",
            {"pageSize": call.query.get("pageSize"), "companyId": call.query["companyId"]},
            "Fix the query parameters named in details.",
        )
    rows = _company_locations(call)
    page = rows[offset : offset + size]
    more = offset + size < len(rows)
    pagination: dict[str, Any] = {
        "totalRecords": len(rows),
        "hasNextPage": more,
        "hasPrevPage": offset > 0,
        "currentPageSize": len(page),
    }
    if more:
        pagination["nextPageToken"] = str(offset + size)
    return {"items": page, "pagination": pagination, "installToFutureLocations": False}


def _company_locations(call: Call) -> list[dict[str, Any]]:
    """The company's locations as both versions list them, filtered by ``isInstalled`` and ``query``."""
    installed = call.sb.auth.installed
    rows = [
        {
            "_id": location,
            "name": f"Sandbox location {location[-2:].lstrip('0') or '0'}",
            "address": "1 Sandbox Street",
            "isInstalled": location in installed,
        }
        for location in call.sb.auth.locations
    ]
    wanted = call.query.get("isInstalled")
    if wanted in ("true", "false"):
        rows = [r for r in rows if r["isInstalled"] == (wanted == "true")]
    text = (call.query.get("query") or "").lower()
    return [r for r in rows if text in str(r["name"]).lower()] if text else rows


# v2's agency routes (oauth.json): the same company and locations, 2021-07-28 field names.
route("POST", "/oauth/locationToken", scope="oauth.write", form=True)(location_token)


@route(
    "GET",
    "/oauth/installedLocations",
    scope="oauth.readonly",
    query=(
        "skip",
        "limit",
        "query",
        "isInstalled",
        "companyId",
        "appId",
        "versionId",
        "onTrial",
        "planId",
        "locationId",
    ),
    required_query=("companyId", "appId"),
)
async def installed_locations_v2(call: Call) -> dict[str, Any]:
    assert call.principal is not None
    if call.principal.user_type != "Company":
        raise ApiError(401, "This route needs an Agency (Company) access token")
    if call.query["appId"] != call.sb.app_id:
        raise ApiError(400, f"appId {call.query['appId']!r} is not an app of this company")
    if call.query["companyId"] != COMPANY_ID:
        raise ApiError(400, "companyId is not the token's company")
    try:
        skip = int(call.query.get("skip") or 0)
        limit = int(call.query.get("limit") or 20)
    except ValueError:
        skip = limit = -1
    if skip < 0 or not 1 <= limit <= 100:
        raise unprocessable("skip must be >= 0 and limit between 1 and 100")
    rows = _company_locations(call)
    return {"locations": rows[skip : skip + limit], "count": len(rows), "installToFutureLocations": False}


# -- admin (no auth, no limits) ---------------------------------------------------------------------
@route("GET", "/_sandbox/health", kind="admin")
async def health(call: Call) -> dict[str, Any]:
    return {"status": "ok", "contacts": call.sb.store.contact_count()}


@route("GET", "/_sandbox/stats", kind="admin")
async def stats(call: Call) -> dict[str, Any]:
    sb = call.sb
    return sb.stats.snapshot(
        token_refreshes=sb.auth.refreshes,
        rejected_refresh_tokens=sb.auth.rejected_refresh_tokens,
        rate_limit_rejections=sb.limiter.rejected,
        faults_injected=dict(sb.faults.injected),
        faults_injected_by_route={route: dict(kinds) for route, kinds in sb.faults.injected_by_route.items()},
        peak_requests_in_window=sb.limiter.peaks(),
        rate_limit=sb.limiter.limit,
        rate_interval=sb.limiter.interval,
        location_tokens_minted=dict(sb.auth.location_tokens),
        # Benchmarks tell the client's CPU from the server's with it (a cumulative count: take differences).
        process_cpu_seconds=time.process_time(),
    )


@route("POST", "/_sandbox/stats/reset", kind="admin")
async def reset_stats(call: Call) -> dict[str, Any]:
    call.sb.stats.reset()
    call.sb.limiter.reset()
    call.sb.faults.clear()
    call.sb.auth.refreshes = call.sb.auth.rejected_refresh_tokens = 0
    call.sb.auth.location_tokens.clear()
    return {"reset": True}


@route("POST", "/_sandbox/locations/suspended", kind="admin")
async def suspend_locations(call: Call) -> dict[str, Any]:
    ids = call.body.get("locationIds")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise unprocessable("locationIds must be a list of location ids")
    call.sb.auth.suspended = set(ids)
    return {"suspended": sorted(call.sb.auth.suspended)}


@route("POST", "/_sandbox/faults", kind="admin")
async def set_faults(call: Call) -> dict[str, Any]:
    faults = call.sb.faults
    kinds = call.body.get("kinds", faults.kinds)
    if isinstance(kinds, str):
        kinds = [k for k in kinds.split(",") if k]
    try:
        faults.configure(float(call.body.get("rate", faults.rate)), list(kinds), call.body.get("seed"))
    except (ValueError, TypeError) as exc:
        raise unprocessable(str(exc)) from exc
    if "latency_ms" in call.body:
        call.sb.options.latency_ms = float(call.body["latency_ms"])
    return {"rate": faults.rate, "kinds": faults.kinds, "latency_ms": call.sb.options.latency_ms}


@route("GET", "/_sandbox/contacts", kind="admin")
async def all_contacts(call: Call) -> dict[str, Any]:
    location = call.query.get("locationId") or call.sb.location_id
    domain = call.query.get("emailDomain")
    contacts = call.sb.store.iter_contacts(location)
    if domain:  # only a run's own contacts: a benchmark counts them without reading the location back
        suffix = "@" + domain.lower()
        contacts = (c for c in contacts if str(c.get("email") or "").lower().endswith(suffix))
    return {"contacts": list(contacts)}


@route("GET", "/_sandbox/info", kind="admin")
async def info(call: Call) -> dict[str, Any]:
    sb = call.sb
    return {
        "locationId": sb.location_id,
        "otherLocationId": OTHER_LOCATION_ID,
        "installedLocationIds": list(sb.auth.installed),
        "companyId": COMPANY_ID,
        "userIds": sb.user_ids,
        "campaignIds": sb.campaign_ids,
        "workflowIds": sb.workflow_ids,
        "calendarIds": sb.calendar_ids,
        "businessIds": sb.business_ids,
        "customFields": sb.custom_fields,
        "privateToken": sb.options.private_token,
        "clientId": sb.options.client_id,
    }


@route("POST", "/_sandbox/tokens", kind="admin")
async def mint_tokens(call: Call) -> dict[str, Any]:
    scopes = call.body.get("scopes") or "contacts.readonly contacts.write"
    if call.body.get("kind") == "code":
        return {"code": call.sb.auth.mint_code(scopes)}
    user_type = "Company" if call.body.get("userType") == "Company" else "Location"
    return {"refresh_token": call.sb.auth.mint_refresh_token(scopes, call.body.get("locationId"), user_type)}


def dumps(data: Any) -> bytes:
    """
    Encode a JSON body compactly.

    :param data: the body.
    """
    return json.dumps(data, separators=(",", ":"), default=str).encode()

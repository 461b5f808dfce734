"""
``ContactsHook``: the HighLevel (LeadConnector) Contacts API v2.

Every endpoint method goes through :meth:`ContactsHook.request`, the one request path that owns
authentication (static token or rotating OAuth tokens), the read-only guard, the rate limiter shared by the
hook's threads, retries with backoff and jitter, and the mapping of API errors onto typed exceptions.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import greenback
import requests
from airflow.sdk import BaseHook

from airflow_provider_contacts.api_versions import SEARCH_PAGE_LIMIT, V2, ApiVersion, for_connection
from airflow_provider_contacts.auth import (
    OAuthTokenProvider,
    TokenProvider,
    TokenStore,
    describe_tokens,
)
from airflow_provider_contacts.concurrency import SharedCalls, bounded_map
from airflow_provider_contacts.exceptions import (
    ContactsApiError,
    ContactsConfigError,
    ContactsError,
    ContactsPermissionError,
)
from airflow_provider_contacts.progress import ProgressLogger
from airflow_provider_contacts.transport.core import WRITE_SCOPE, Call
from airflow_provider_contacts.transport.core import without_none as _without_none
from airflow_provider_contacts.transport.limiter import RollingWindowLimiter
from airflow_provider_contacts.transport.registry import get_company_transport, get_transport
from airflow_provider_contacts.transport.settings import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    ContactsSettings,
)
from airflow_provider_contacts.transport.sync import Transport

# The search API serves ``page`` numbers over the first 10,000 rows only; ``searchAfter`` goes beyond.
SEARCH_PAGE_WINDOW = 10_000
LIST_MAX_PAGE_SIZE = 100
BULK_TAGS_MAX_CONTACTS = 500
BUSINESS_PAGE_SIZE = 100
#: ``upsert_contacts(max_workers=None)`` never runs more requests at once than this.
AUTO_WORKERS_CEILING = 64
# The task search documents no maximum ``limit`` (default 25); 100 is the largest page the other lists take.
TASK_SEARCH_PAGE_LIMIT = 100
_CONNECTION_LOOKUPS = SharedCalls()

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_BASE_URL", "ContactsHook", "ContactsSettings"]


def _segment(name: str, value: Any) -> str:
    """Check an id and quote it for a URL path, so an id can never change the route."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ContactsConfigError(f"{name} is required")
    return quote(str(value).strip(), safe="")


def _iso(value: datetime | str | None) -> str | None:
    """ISO-8601 UTC with milliseconds, as the API writes dates; strings pass through unchanged."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ContactsHook(BaseHook):
    """
    Interact with the HighLevel (LeadConnector) Contacts API v2.

    List methods are generators that page lazily; the others return the API's inner object (the contact,
    the task, the list of notes...). Any other HighLevel endpoint is reachable through :meth:`request`, with
    the same authentication, limits and retries.

    :param contacts_conn_id: the Airflow connection (type ``contacts``).
    :param location_id: the location (sub-account) to work on; default: the connection's
        ``extra.location_id``. With an agency connection (``auth_type`` ``agency``) any location where the app
        is installed (see :meth:`installed_locations`); each location has its own token and rate budget.
    :param token_store: where rotated OAuth tokens are kept. Default: a file when the connection's extra
        names ``token_file``, else the Airflow Variable ``extra.token_variable`` (``contacts_token__<conn_id>``).
    """

    conn_name_attr = "contacts_conn_id"
    default_conn_name = "contacts_default"
    conn_type = "contacts"
    hook_name = "Contacts API"

    def __init__(
        self,
        contacts_conn_id: str = default_conn_name,
        location_id: str | None = None,
        token_store: TokenStore | None = None,
    ) -> None:
        super().__init__()
        self.contacts_conn_id = contacts_conn_id
        if location_id is not None and (not isinstance(location_id, str) or not location_id.strip()):
            raise ContactsConfigError(f"location_id must be a non-empty string or None, got {location_id!r}")
        self._location_id = location_id.strip() if location_id else None
        self._token_store = token_store
        self._transport: Transport | None = None
        self._company_transport: Transport | None = None
        self._setup_lock = threading.Lock()
        self._counter_lock = threading.Lock()
        self._requests_sent = 0

    def __repr__(self) -> str:
        where = f", location_id={self._location_id!r}" if self._location_id else ""
        return f"{type(self).__name__}(contacts_conn_id={self.contacts_conn_id!r}{where})"

    # ------------------------------------------------------------------------------------------ set-up

    def _connection(self) -> Any:
        """
        The Airflow connection, looked up anew; hooks of one connection that ask at the same moment (an
        agency's locations, each in its thread) share one lookup, which costs milliseconds of CPU each.
        """
        return _CONNECTION_LOOKUPS.call(
            (type(self), self.contacts_conn_id), lambda: self.get_connection(self.contacts_conn_id)
        )

    @property
    def transport(self) -> Transport:
        """
        The connection's transport (settings, auth, rate budget, session), shared by every hook, sensor and
        trigger of this connection in this process.
        """
        if self._transport is None:  # ready: skip the lock on the hot path
            with self._setup_lock:
                if self._transport is None:
                    conn = self._connection()
                    self._transport = get_transport(
                        conn, location_id=self._location_id, token_store=self._token_store
                    )
        return self._transport

    @property
    def settings(self) -> ContactsSettings:
        """The connection's parsed settings (read on first use, never at DAG parse time)."""
        return self.transport.settings

    @property
    def api(self) -> ApiVersion:
        """What differs in the connection's API version (paths, field names, answers)."""
        return for_connection(self.settings.conn_id, self.settings.api_version)

    @property
    def limiter(self) -> RollingWindowLimiter:
        """The rate limiter of the connection's location, shared by every thread and coroutine of the process."""
        return self.transport.limiter

    @property
    def auth(self) -> TokenProvider:
        """The token provider (static token or OAuth with rotation)."""
        return self.transport.auth

    def get_conn(self) -> requests.Session:
        """Return the connection's keep-alive HTTP session."""
        return self.transport.session

    @property
    def location_id(self) -> str:
        """The hook's location (sub-account) id: the one it was given, else the connection's."""
        location_id = self.settings.location_id
        if not location_id:
            raise ContactsConfigError(
                f"connection {self.contacts_conn_id!r}: extra.location_id is required for this call (the "
                "sub-account whose contacts to use), or pass location_id to the hook, operator or sensor"
            )
        return location_id

    def report_origin(self) -> dict[str, Any]:
        """
        The connection and location a sync or load report belongs to (the operations view groups by them).

        The location is None when the connection names none or cannot be read: the report still names the
        connection.
        """
        try:
            location = self.location_id
        except ContactsError:
            location = None
        return {"conn_id": self.contacts_conn_id, "location_id": location}

    def check_write_access(self, method: str | None = None, path: str | None = None) -> None:
        """
        Raise :class:`ContactsPermissionError` unless the connection may write contacts; sends nothing.

        Bulk jobs call it before a long validation pass, so a read-only connection fails at once.

        :param method: the method of the write about to be sent, for the message.
        :param path: the path of the write about to be sent, for the message.
        """
        settings = self.settings
        if WRITE_SCOPE not in settings.scopes:
            raise ContactsPermissionError(
                f"connection {settings.conn_id!r} is read-only: extra.scopes ({' '.join(sorted(settings.scopes))}) "
                f"lacks {WRITE_SCOPE}. Grant the app that scope and add it to the connection to allow writes",
                method=method,
                path=path,
            )

    @property
    def requests_sent(self) -> int:
        """How many HTTP requests this hook has sent to the API, retries included (token refreshes not)."""
        return self._requests_sent

    # ------------------------------------------------------------------------------------ request path

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        *,
        version: str | None = None,
        write: bool | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """
        Send one API request with authentication, the rate budget, retries and typed errors.

        :param method: HTTP method.
        :param path: path below the base URL, e.g. ``/contacts/abc`` or ``/opportunities/search``.
        :param params: query parameters (None values are dropped).
        :param json: JSON body.
        :param version: the ``Version`` header for this call (default: the connection's ``api_version``).
        :param write: whether the call writes; writes to ``/contacts`` need the ``contacts.write`` scope.
            Default: anything but GET and ``.../search``.
        :param idempotent: whether a call that got no answer may be sent again. Default: all but POST
            ``/contacts/`` (create). Non-idempotent calls are retried only when they surely did not arrive.
        :return: the decoded JSON body (``{}`` for an empty one).
        """
        return self._send(self._call(method, path, params, json, version, write, idempotent))

    def _send(self, call: Call) -> Any:
        """Send a built call from a thread, or over the async transport when on an event loop."""
        with self._counting(call):
            # greenback's own check costs a few microseconds per request; a worker thread has no loop.
            if asyncio._get_running_loop() is not None and greenback.has_portal():
                # On an event loop (a trigger's check): send over the async transport, awaited on the loop.
                return greenback.await_(self.transport.aio.request(call))
            return self.transport.request(call)

    async def arequest(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        *,
        version: str | None = None,
        write: bool | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """
        :meth:`request` for a coroutine (triggers): the same call, budget and token, over ``httpx``; it
        waits on the event loop and never blocks it.
        """
        call = self._call(method, path, params, json, version, write, idempotent)
        with self._counting(call):
            return await self.transport.aio.request(call)

    def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        version: str | None,
        write: bool | None,
        idempotent: bool | None,
    ) -> Call:
        """The call of :meth:`request` / :meth:`arequest`, refused before sending when it needs a scope."""
        call = Call.build(
            self.settings, method, path, params, json, version=version, write=write, idempotent=idempotent
        )
        if call.guarded:
            self.check_write_access(call.method, call.path)
        return call

    @contextmanager
    def _counting(self, call: Call) -> Iterator[None]:
        """Add what the call sent (retries included) to :attr:`requests_sent`, also when it failed."""
        try:
            yield
        finally:
            with self._counter_lock:
                self._requests_sent += call.sent

    # ------------------------------------------------------------------------------------------ contacts

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        """
        Get one contact.

        :param contact_id: the contact's id.
        """
        return self.request("GET", f"/contacts/{_segment('contact_id', contact_id)}")["contact"]

    def _with_location(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(fields, Mapping):
            raise ContactsConfigError(
                f"fields must be a mapping of contact fields, got {type(fields).__name__}"
            )
        return {"locationId": self.location_id, **self.api.contact_body(fields)}

    def create_contact(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """
        Create a contact. Not retried once sent (the API can create and still fail): prefer upsert.

        :param fields: the contact's fields (``firstName``, ``email``, ``phone``, ``tags``, ``customFields``...).
        """
        return self.request("POST", "/contacts/", json=self._with_location(fields), idempotent=False)[
            "contact"
        ]

    def update_contact(self, contact_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """
        Update a contact. ``tags`` given here replace the contact's whole tag list.

        :param contact_id: the contact's id.
        :param fields: the fields to change.
        """
        path = f"/contacts/{_segment('contact_id', contact_id)}"
        return self.request("PUT", path, json=self.api.contact_body(fields))["contact"]

    def delete_contact(self, contact_id: str) -> dict[str, Any]:
        """
        Delete a contact.

        :param contact_id: the contact's id.
        """
        return self.api.outcome(self.request("DELETE", f"/contacts/{_segment('contact_id', contact_id)}"))

    def upsert_contact(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """
        Create or update a contact by the location's duplicate rule (email, then phone). Safe to repeat.

        :param fields: the contact's fields; ``email`` or ``phone`` identifies an existing contact.
        :return: ``{"contact": ..., "new": bool, "maybe_new": bool}``. ``maybe_new``: the API answered
            ``new: false`` to a retry, after an attempt that got no answer or a 5xx and may have created the
            contact; so this call may have created it, or not.
        """
        call = self._call("POST", "/contacts/upsert", None, self._with_location(fields), None, None, None)
        body = self._send(call)
        new = bool(body.get("new"))
        return {"contact": body.get("contact"), "new": new, "maybe_new": not new and call.maybe_applied}

    def search_contacts(
        self,
        filters: Sequence[Mapping[str, Any]] | None = None,
        query: str | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        page_limit: int = SEARCH_PAGE_LIMIT,
    ) -> Iterator[dict[str, Any]]:
        """
        Search contacts, yielding them one by one while fetching page after page.

        Pages follow the API's ``searchAfter`` cursor when it gives one (stable under concurrent writes and
        the only way past 10,000 rows), else page numbers within the first 10,000 rows. Stops at ``total``.

        :param filters: the API's filters, e.g. ``[{"field": "tags", "operator": "eq", "value": "vip"}]``.
        :param query: full-text query.
        :param sort: e.g. ``[{"field": "dateUpdated", "direction": "asc"}]``.
        :param page_limit: rows per request, at most 500.
        """
        if not 1 <= int(page_limit) <= SEARCH_PAGE_LIMIT:
            raise ContactsConfigError(
                f"page_limit must be between 1 and {SEARCH_PAGE_LIMIT}, got {page_limit}"
            )
        base: dict[str, Any] = {"locationId": self.location_id, "pageLimit": int(page_limit)}
        if filters:
            base["filters"] = list(filters)
        if query:
            base["query"] = query
        if sort:
            base["sort"] = list(sort)
        page, cursor, fetched = 1, None, 0
        while True:
            body = dict(base, searchAfter=cursor) if cursor is not None else dict(base, page=page)
            answer = self.request("POST", "/contacts/search", json=body, write=False)
            contacts = answer.get("contacts") or []
            yield from contacts
            fetched += len(contacts)
            total = answer.get("total")
            if len(contacts) < page_limit or (isinstance(total, int) and fetched >= total):
                return
            next_cursor = answer.get("searchAfter") or contacts[-1].get("searchAfter")
            if next_cursor:
                if next_cursor == cursor:
                    raise ContactsApiError(
                        "the search API returned the same searchAfter cursor twice; stopping instead of looping",
                        method="POST",
                        path="/contacts/search",
                    )
                cursor = next_cursor
            elif (page + 1) * page_limit <= SEARCH_PAGE_WINDOW:
                page += 1
            else:
                raise ContactsApiError(
                    f"the search matches more than {SEARCH_PAGE_WINDOW} contacts and the API gave no "
                    "searchAfter cursor to go on; narrow the filters",
                    method="POST",
                    path="/contacts/search",
                )

    def find_duplicate_contact(
        self, email: str | None = None, phone: str | None = None
    ) -> dict[str, Any] | None:
        """
        Find the contact the location's duplicate rule matches (email first, then phone), or None.

        :param email: the email to look for.
        :param phone: the phone number to look for (E.164, e.g. ``+14155550100``).
        """
        if not email and not phone:
            raise ContactsConfigError("find_duplicate_contact needs an email or a phone")
        params = {"locationId": self.location_id, "email": email, "number": phone}
        return self.request("GET", "/contacts/search/duplicate", params=params).get("contact") or None

    def list_contacts(
        self, query: str | None = None, page_size: int = LIST_MAX_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """
        List contacts, newest first, through the deprecated ``GET /contacts/`` (prefer :meth:`search_contacts`).

        Follows both cursors (``startAfter`` and ``startAfterId``) and stops with an error if the API repeats
        a cursor rather than loop forever.

        :param query: full-text query.
        :param page_size: rows per request, at most 100.
        """
        if not self.api.lists_contacts:
            raise ContactsConfigError(
                f"GET /contacts/ does not exist in API version {self.api.name}; use search_contacts"
            )
        if not 1 <= int(page_size) <= LIST_MAX_PAGE_SIZE:
            raise ContactsConfigError(
                f"page_size must be between 1 and {LIST_MAX_PAGE_SIZE}, got {page_size}"
            )
        params: dict[str, Any] = {"locationId": self.location_id, "limit": int(page_size), "query": query}
        seen: set[tuple[Any, Any]] = set()
        while True:
            answer = self.request("GET", "/contacts/", params=params)
            contacts = answer.get("contacts") or []
            yield from contacts
            meta = answer.get("meta") or {}
            cursor = (meta.get("startAfter"), meta.get("startAfterId"))
            if len(contacts) < page_size or cursor == (None, None):
                return
            if cursor in seen:
                raise ContactsApiError(
                    "GET /contacts/ returned a cursor it had returned before; stopping instead of looping",
                    method="GET",
                    path="/contacts/",
                )
            seen.add(cursor)
            params.update(startAfter=cursor[0], startAfterId=cursor[1])

    def get_business_contacts(self, business_id: str, query: str | None = None) -> Iterator[dict[str, Any]]:
        """
        Contacts of a business, paged with skip/limit.

        :param business_id: the business's id.
        :param query: full-text query.
        """
        path = f"/contacts/business/{_segment('business_id', business_id)}"
        skip = 0
        while True:
            params = {
                "locationId": self.location_id,
                "limit": BUSINESS_PAGE_SIZE,
                "skip": skip,
                "query": query,
            }
            answer = self.request("GET", path, params=params)
            contacts = answer.get("contacts") or []
            yield from contacts
            skip += len(contacts)
            count = answer.get("count")
            if len(contacts) < BUSINESS_PAGE_SIZE or (isinstance(count, int) and skip >= count):
                return

    # -------------------------------------------------------------------------------------------- tags

    def add_tags(self, contact_id: str, tags: Sequence[str]) -> list[str]:
        """
        Add tags to a contact (the others stay).

        :param contact_id: the contact's id.
        :param tags: tags to add.
        """
        path = f"/contacts/{_segment('contact_id', contact_id)}/tags"
        return self.request("POST", path, json={"tags": _tag_list(tags)}).get("tags", [])

    def remove_tags(self, contact_id: str, tags: Sequence[str]) -> list[str]:
        """
        Remove tags from a contact.

        :param contact_id: the contact's id.
        :param tags: tags to remove.
        """
        path = f"/contacts/{_segment('contact_id', contact_id)}/tags"
        return self.request("DELETE", path, json={"tags": _tag_list(tags)}).get("tags", [])

    def bulk_update_tags(
        self,
        contact_ids: Sequence[str],
        tags: Sequence[str],
        action: str = "add",
        remove_all: bool = False,
    ) -> dict[str, Any]:
        """
        Add or remove tags on many contacts, 500 per request. Per-contact failures come back in
        ``responses`` (the API answers 201 with partial success); ``errorCount`` sums them.

        :param contact_ids: the contacts' ids.
        :param tags: the tags.
        :param action: ``add`` or ``remove``.
        :param remove_all: with ``remove``, remove every tag of the contacts.
        """
        if action not in ("add", "remove"):
            raise ContactsConfigError(f"action must be 'add' or 'remove', got {action!r}")
        if remove_all and action != "remove":
            raise ContactsConfigError("remove_all only goes with action='remove'")
        ids = list(contact_ids)
        merged: dict[str, Any] = {"succeeded": True, "succeded": True, "errorCount": 0, "responses": []}
        for start in range(0, len(ids), BULK_TAGS_MAX_CONTACTS):
            body: dict[str, Any] = {
                "contacts": ids[start : start + BULK_TAGS_MAX_CONTACTS],
                "tags": _tag_list(tags),
                "locationId": self.location_id,
            }
            if remove_all:
                body["removeAllTags"] = True
            answer = self.request("POST", f"/contacts/bulk/tags/update/{action}", json=body)
            flag = self.api.outcome(answer).get("succeeded", True)
            merged["succeeded"] = merged["succeded"] = merged["succeeded"] and bool(flag)
            merged["errorCount"] += int(answer.get("errorCount") or 0)
            merged["responses"].extend(answer.get("responses") or [])
        return merged

    def bulk_update_business(self, contact_ids: Sequence[str], business_id: str | None) -> dict[str, Any]:
        """
        Set the business of many contacts, or remove it with ``business_id=None``.

        :param contact_ids: the contacts' ids.
        :param business_id: the business's id, or None to remove.
        """
        body = {"locationId": self.location_id, "ids": list(contact_ids), "businessId": business_id}
        return self.api.outcome(self.request("POST", "/contacts/bulk/business", json=body))

    # ------------------------------------------------------------------------------------------- notes

    def _contact_path(self, contact_id: str, *parts: tuple[str, Any] | str) -> str:
        path = f"/contacts/{_segment('contact_id', contact_id)}"
        for part in parts:
            path += f"/{part}" if isinstance(part, str) else f"/{_segment(*part)}"
        return path

    def get_notes(self, contact_id: str) -> list[dict[str, Any]]:
        """
        All notes of a contact.

        :param contact_id: the contact's id.
        """
        return self.request("GET", self._contact_path(contact_id, "notes")).get("notes", [])

    def get_note(self, contact_id: str, note_id: str) -> dict[str, Any]:
        """
        One note.

        :param contact_id: the contact's id.
        :param note_id: the note's id.
        """
        return self.request("GET", self._contact_path(contact_id, "notes", ("note_id", note_id)))["note"]

    def create_note(self, contact_id: str, body: str, **fields: Any) -> dict[str, Any]:
        """
        Add a note to a contact. Not retried once sent, so a lost answer never makes two notes.

        :param contact_id: the contact's id.
        :param body: the note's text.
        :param fields: other note fields: ``userId``, ``title``, ``color``, ``pinned``.
        """
        if not body:
            raise ContactsConfigError("body is required for a note")
        payload = {"body": body, **fields}
        path = self._contact_path(contact_id, "notes")
        return self.request("POST", path, json=payload, idempotent=False)["note"]

    def update_note(
        self, contact_id: str, note_id: str, body: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """
        Change a note.

        :param contact_id: the contact's id.
        :param note_id: the note's id.
        :param body: the new text.
        :param fields: other note fields to change.
        """
        payload = _without_none({"body": body, **fields})
        return self.request(
            "PUT", self._contact_path(contact_id, "notes", ("note_id", note_id)), json=payload
        )["note"]

    def delete_note(self, contact_id: str, note_id: str) -> dict[str, Any]:
        """
        Delete a note.

        :param contact_id: the contact's id.
        :param note_id: the note's id.
        """
        return self.api.outcome(
            self.request("DELETE", self._contact_path(contact_id, "notes", ("note_id", note_id)))
        )

    # ------------------------------------------------------------------------------------------- tasks

    def get_tasks(self, contact_id: str) -> list[dict[str, Any]]:
        """
        All tasks of a contact.

        :param contact_id: the contact's id.
        """
        return self.request("GET", self._contact_path(contact_id, "tasks")).get("tasks", [])

    def get_task(self, contact_id: str, task_id: str) -> dict[str, Any]:
        """
        One task.

        :param contact_id: the contact's id.
        :param task_id: the task's id.
        """
        return self.request("GET", self._contact_path(contact_id, "tasks", ("task_id", task_id)))["task"]

    def create_task(
        self,
        contact_id: str,
        title: str,
        due_date: datetime | str,
        body: str | None = None,
        assigned_to: str | None = None,
        completed: bool = False,
    ) -> dict[str, Any]:
        """
        Create a task on a contact. Not retried once sent, so a lost answer never makes two tasks.

        :param contact_id: the contact's id.
        :param title: the task's title.
        :param due_date: when it is due (datetime, or ISO-8601 string).
        :param body: the task's description.
        :param assigned_to: the user id it is assigned to.
        :param completed: whether it is already done.
        """
        if not title:
            raise ContactsConfigError("title is required for a task")
        if not due_date:
            raise ContactsConfigError("due_date is required for a task")
        payload = _without_none(
            {
                "title": title,
                "dueDate": _iso(due_date),
                "body": body,
                "assignedTo": assigned_to,
                "completed": bool(completed),
            }
        )
        path = self._contact_path(contact_id, "tasks")
        return self.request("POST", path, json=payload, idempotent=False)["task"]

    def update_task(
        self,
        contact_id: str,
        task_id: str,
        title: str | None = None,
        due_date: datetime | str | None = None,
        body: str | None = None,
        assigned_to: str | None = None,
        completed: bool | None = None,
    ) -> dict[str, Any]:
        """
        Change a task; only the given fields change.

        :param contact_id: the contact's id.
        :param task_id: the task's id.
        :param title: new title.
        :param due_date: new due date.
        :param body: new description.
        :param assigned_to: new assignee.
        :param completed: new completion state.
        """
        payload = _without_none(
            {
                "title": title,
                "dueDate": _iso(due_date),
                "body": body,
                "assignedTo": assigned_to,
                "completed": completed,
            }
        )
        return self.request(
            "PUT", self._contact_path(contact_id, "tasks", ("task_id", task_id)), json=payload
        )["task"]

    def complete_task(self, contact_id: str, task_id: str, completed: bool = True) -> dict[str, Any]:
        """
        Mark a task completed (or not).

        :param contact_id: the contact's id.
        :param task_id: the task's id.
        :param completed: the new state.
        """
        path = self._contact_path(contact_id, "tasks", ("task_id", task_id), "completed")
        return self.request("PUT", path, json={"completed": bool(completed)})["task"]

    def delete_task(self, contact_id: str, task_id: str) -> dict[str, Any]:
        """
        Delete a task.

        :param contact_id: the contact's id.
        :param task_id: the task's id.
        """
        return self.api.outcome(
            self.request("DELETE", self._contact_path(contact_id, "tasks", ("task_id", task_id)))
        )

    # ---------------------------------------------------------------------- appointments, automation

    def get_appointments(self, contact_id: str) -> list[dict[str, Any]]:
        """
        The appointments of a contact.

        :param contact_id: the contact's id.
        """
        return self.request("GET", self._contact_path(contact_id, "appointments")).get("events", [])

    def add_to_campaign(self, contact_id: str, campaign_id: str) -> dict[str, Any]:
        """
        Add a contact to a campaign.

        :param contact_id: the contact's id.
        :param campaign_id: the campaign's id.
        """
        path = self._contact_path(contact_id, "campaigns", ("campaign_id", campaign_id))
        return self.api.outcome(self.request("POST", path, json={}))

    def remove_from_campaign(self, contact_id: str, campaign_id: str) -> dict[str, Any]:
        """
        Remove a contact from a campaign.

        :param contact_id: the contact's id.
        :param campaign_id: the campaign's id.
        """
        path = self._contact_path(contact_id, "campaigns", ("campaign_id", campaign_id))
        return self.api.outcome(self.request("DELETE", path))

    def remove_from_all_campaigns(self, contact_id: str) -> dict[str, Any]:
        """
        Remove a contact from every campaign.

        :param contact_id: the contact's id.
        """
        path = self._contact_path(contact_id, "campaigns", self.api.remove_all_campaigns)
        return self.api.outcome(self.request("DELETE", path))

    def add_to_workflow(
        self, contact_id: str, workflow_id: str, event_start_time: datetime | str | None = None
    ) -> dict[str, Any]:
        """
        Add a contact to a workflow.

        :param contact_id: the contact's id.
        :param workflow_id: the workflow's id.
        :param event_start_time: when the workflow's event starts (ISO-8601 with offset, or a datetime).
        """
        path = self._contact_path(contact_id, "workflow", ("workflow_id", workflow_id))
        payload = _without_none({"eventStartTime": _iso(event_start_time)})
        return self.api.outcome(self.request("POST", path, json=payload))

    def remove_from_workflow(self, contact_id: str, workflow_id: str) -> dict[str, Any]:
        """
        Remove a contact from a workflow.

        :param contact_id: the contact's id.
        :param workflow_id: the workflow's id.
        """
        path = self._contact_path(contact_id, "workflow", ("workflow_id", workflow_id))
        return self.api.outcome(self.request("DELETE", path))

    def add_followers(self, contact_id: str, followers: Sequence[str]) -> dict[str, Any]:
        """
        Add followers (user ids) to a contact.

        :param contact_id: the contact's id.
        :param followers: user ids.
        """
        path = self._contact_path(contact_id, "followers")
        return self.api.outcome(self.request("POST", path, json={"followers": list(followers)}))

    def remove_followers(self, contact_id: str, followers: Sequence[str]) -> dict[str, Any]:
        """
        Remove followers (user ids) from a contact.

        :param contact_id: the contact's id.
        :param followers: user ids.
        """
        path = self._contact_path(contact_id, "followers")
        return self.api.outcome(self.request("DELETE", path, json={"followers": list(followers)}))

    # -------------------------------------------------------------------------------------- beyond

    def get_custom_fields(self) -> list[dict[str, Any]]:
        """The location's contact custom fields (``id``, ``name``, ``fieldKey``, ``dataType``...)."""
        path = f"/locations/{_segment('location_id', self.location_id)}/customFields"
        # The custom fields API (custom-fields.json) has only the 2021-07-28 version.
        answer = self.request("GET", path, params={"model": "contact"}, version=V2)
        return answer.get("customFields", [])

    def search_location_tasks(
        self,
        contact_ids: Sequence[str] | None = None,
        completed: bool | None = None,
        assigned_to: Sequence[str] | None = None,
        query: str | None = None,
        business_id: str | None = None,
        page_limit: int = TASK_SEARCH_PAGE_LIMIT,
    ) -> Iterator[dict[str, Any]]:
        """
        The location's tasks, through the Locations API's task search (scope ``locations/tasks.readonly``),
        yielded one by one while fetching page after page with ``skip``/``limit``.

        The answer has no total: paging stops at the first short page, so ``T`` tasks cost
        ``T // page_limit + 1`` requests.

        :param contact_ids: only the tasks of these contacts.
        :param completed: only completed (True) or open (False) tasks.
        :param assigned_to: only tasks assigned to these user ids.
        :param query: text the task's title contains.
        :param business_id: only the tasks of this business.
        :param page_limit: tasks per request.
        """
        if int(page_limit) < 1:
            raise ContactsConfigError(f"page_limit must be at least 1, got {page_limit}")
        path = f"/locations/{_segment('location_id', self.location_id)}/tasks/search"
        base = _without_none(
            {
                "contactId": list(contact_ids) if contact_ids is not None else None,
                "completed": completed,
                "assignedTo": list(assigned_to) if assigned_to is not None else None,
                "query": query,
                "businessId": business_id,
                "limit": int(page_limit),
            }
        )
        if contact_ids is not None and not base["contactId"]:
            return
        skip = 0
        while True:
            # locations.json lists only 2021-07-28 for the task search, whatever the contacts' version.
            body = dict(base, skip=skip)
            tasks = self.request("POST", path, json=body, write=False, version=V2).get("tasks") or []
            yield from tasks
            skip += len(tasks)
            if len(tasks) < page_limit:
                return

    def upsert_contacts(
        self, records: Iterable[Mapping[str, Any]], max_workers: int | None = None
    ) -> list[dict[str, Any]]:
        """
        Upsert many contacts concurrently under the location's shared rate budget.

        Records are read lazily and at most one per worker is in flight, so memory stays flat. A record
        that fails is reported and the others go on.

        :param records: contact field mappings (each with ``email`` or ``phone``).
        :param max_workers: concurrent requests. None sizes itself from the measured latency and the
            allowed rate: enough requests in flight that a window's burst goes out quickly (at most 64).
        :return: one result per record, in input order: ``{"index", "ok", "new", "maybe_new", "contact_id",
            "contact", "error", "status"}`` (``new`` and ``maybe_new`` as :meth:`upsert_contact` gives them).
        """
        if max_workers is not None and max_workers < 1:
            raise ContactsConfigError("max_workers must be at least 1")
        total = len(records) if isinstance(records, Sized) else None
        progress = ProgressLogger(self.log, "contacts upserted", total=total)
        results: dict[int, dict[str, Any]] = {}
        transport = self.transport
        # A token that cannot be had fails the batch once, not each record: an agency location whose token
        # is refused must not send a mint per record.
        transport.auth.access_token()
        for _, result in bounded_map(
            lambda pair: self._upsert_one(*pair),
            enumerate(records),
            workers=max_workers or AUTO_WORKERS_CEILING,
            in_flight=max_workers or (lambda: transport.concurrency(AUTO_WORKERS_CEILING)),
            name="contacts-upsert",
            read_anywhere=isinstance(records, (list, tuple)),  # reading one does nothing else
        ):
            results[result["index"]] = result
            progress.advance(failed=0 if result["ok"] else 1)
        progress.finish()
        return [results[index] for index in sorted(results)]

    def _upsert_one(self, index: int, record: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {
            "index": index,
            "ok": False,
            "new": None,
            "maybe_new": None,
            "contact_id": None,
            "contact": None,
        }
        try:
            answer = self.upsert_contact(record)
        except ContactsError as error:
            message = error.message if isinstance(error, ContactsApiError) else str(error)
            status = error.status if isinstance(error, ContactsApiError) else None
            return {**result, "error": f"record {index}: {message}", "status": status}
        contact = answer.get("contact") or {}
        return {
            **result,
            "ok": True,
            "new": answer.get("new"),
            "maybe_new": answer.get("maybe_new"),
            "contact_id": contact.get("id"),
            "contact": contact,
            "error": None,
            "status": None,
        }

    # ------------------------------------------------------------------------------------ tokens, UI

    def refresh_access_token(self) -> dict[str, Any]:
        """
        Refresh the OAuth access token now and save the rotated pair (for a scheduled token-refresh DAG).

        :return: a summary safe for logs and XCom: expiry, scope, the refresh token's fingerprint; no token.
        """
        auth = self.company_transport.auth if self._is_agency() else self.auth
        if not isinstance(auth, OAuthTokenProvider):
            raise ContactsConfigError(
                f"connection {self.contacts_conn_id!r} uses a private integration token; there is nothing to refresh"
            )
        current = auth.access_token()
        auth.refresh(stale_access_token=current)
        return describe_tokens(auth.store.load())

    # ------------------------------------------------------------------------------------------ agency

    def _is_agency(self) -> bool:
        extra = self._connection().extra_dejson or {}
        return str(extra.get("auth_type") or "").strip().lower() == "agency"

    @property
    def company_transport(self) -> Transport:
        """An agency connection's company transport: the agency routes, the company's token and budget."""
        if self._company_transport is None:
            with self._setup_lock:
                if self._company_transport is None:
                    conn = self._connection()
                    settings = ContactsSettings.from_connection(conn)
                    if settings.auth_type != "agency":
                        raise ContactsConfigError(
                            f"connection {self.contacts_conn_id!r} is not an agency connection (extra.auth_type "
                            f"is {settings.auth_type!r}): only an agency (Company) install lists locations"
                        )
                    self._company_transport = get_company_transport(conn, self._token_store)
        return self._company_transport

    def installed_locations(self, page_size: int = 100, query: str | None = None) -> Iterator[dict[str, Any]]:
        """
        The locations where the agency connection's app is installed (``_id``, ``name``, ``isInstalled``...),
        paged lazily.

        :param page_size: locations per request, at most 100.
        :param query: only locations whose name contains this text.
        """
        if not 1 <= int(page_size) <= LIST_MAX_PAGE_SIZE:
            raise ContactsConfigError(
                f"page_size must be between 1 and {LIST_MAX_PAGE_SIZE}, got {page_size}"
            )
        transport = self.company_transport
        settings = transport.settings
        api = for_connection(settings.conn_id, settings.api_version)
        base = {
            "companyId": settings.company_id,
            # The app's id as the official SDKs derive it: the client id up to its first '-'.
            "appId": str(settings.client_id).split("-", 1)[0],
            "isInstalled": "true",
            "query": query,
        }
        cursor: str | None = None
        while True:
            params = {**base, **api.installed_locations_query(cursor, int(page_size))}
            call = Call.build(settings, "GET", api.installed_locations_path, params, version=api.name)
            rows, cursor = api.installed_locations_page(transport.request(call), cursor)
            with self._counter_lock:
                self._requests_sent += call.sent
            yield from rows
            if cursor is None:
                return

    def test_connection(self) -> tuple[bool, str]:
        """
        The connection's Test (UI button, REST): checks what it can without touching the token chain.

        Airflow tests under a random connection id, so nothing is refreshed or saved here: see
        :mod:`airflow_provider_contacts.hooks.connection_test` for what is checked and how.
        """
        from airflow_provider_contacts.hooks.connection_test import run_connection_test

        return run_connection_test(self)


def _tag_list(tags: Sequence[str] | str) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    cleaned = [str(tag).strip() for tag in tags if str(tag).strip()]
    if not cleaned:
        raise ContactsConfigError("tags must name at least one tag")
    return cleaned

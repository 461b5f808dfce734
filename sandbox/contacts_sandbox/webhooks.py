"""
Webhook deliveries: every change the sandbox's routes make is sent, signed, to the subscribed URLs.

Like HighLevel: the payloads are flat JSON in HighLevel's shapes (``type``, ``locationId``, ``id`` and the
record's fields, plus ``timestamp`` and ``webhookId``); the raw body is signed with Ed25519 in
``x-ghl-signature`` (the public key is the connection's ``webhook_public_key``); a delivery is retried only
after a 429, the same signed payload (its ``timestamp`` unchanged), up to 6 times 10 minutes apart (times
``webhook_retry_scale``): 7 tries in all; any other failure loses it.

``webhook_fault`` (option, or ``POST /_sandbox/webhooks``) makes every delivery misbehave, for tests:
``tampered`` (body changed after signing), ``unsigned`` (no signature header), ``stale`` (a timestamp a day
old, validly signed), ``duplicate`` (each delivery sent twice with the same ``webhookId``).

Deliveries run on an event loop of their own thread: a route never waits on a subscriber.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import heapq
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .routes import route

if TYPE_CHECKING:
    from .model import Sandbox
    from .routes import Call

log = logging.getLogger(__name__)

WEBHOOK_FAULTS = ("", "tampered", "unsigned", "stale", "duplicate")
#: HighLevel's retry schedule after a 429: the first try and up to 6 retries, about 10 minutes apart
#: (https://help.gohighlevel.com/support/solutions/articles/155000007071-automated-webhook-retries).
MAX_TRIES = 7
RETRY_DELAY = 600.0
_CONCURRENCY = 16

#: Fields of HighLevel's contact event payloads (ContactCreate ... ContactDndUpdate).
_CONTACT_FIELDS = (
    "id",
    "address1",
    "city",
    "state",
    "companyName",
    "country",
    "source",
    "dateAdded",
    "dateOfBirth",
    "dnd",
    "email",
    "firstName",
    "lastName",
    "phone",
    "postalCode",
    "tags",
    "website",
    "attachments",
    "assignedTo",
    "customFields",
)
_TASK_FIELDS = ("id", "assignedTo", "body", "contactId", "title", "dateAdded", "dueDate")
_NOTE_FIELDS = ("id", "body", "contactId", "dateAdded")
_APPOINTMENT_FIELDS = (
    "id",
    "address",
    "title",
    "calendarId",
    "contactId",
    "groupId",
    "appointmentStatus",
    "assignedUserId",
    "notes",
    "startTime",
    "endTime",
    "dateAdded",
    "dateUpdated",
)


def _pick(doc: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: doc.get(k) for k in names}


def contact_payload(doc: dict[str, Any]) -> dict[str, Any]:
    """
    Return a contact event's fields (HighLevel's webhook shape) from a contact document.

    :param doc: the contact.
    """
    return {**_pick(doc, _CONTACT_FIELDS), "name": doc.get("contactName")}


def events_for(label: str, call: Call, result: dict[str, Any]) -> list[dict[str, Any]]:
    """
    Return the webhook payloads (without ``timestamp``/``webhookId``) a successful route call causes.

    :param label: ``METHOD /template`` of the route.
    :param call: the request.
    :param result: the route's answer.
    """
    location = call.principal.location_id if call.principal else call.sb.location_id

    def contact_event(kind: str, doc: dict[str, Any] | None) -> dict[str, Any]:
        return {"type": kind, "locationId": location, **contact_payload(doc or {})}

    def stored(contact_id: str) -> dict[str, Any] | None:
        return call.sb.store.get_contact(contact_id)

    params = call.params
    if label == "POST /contacts/":
        return [contact_event("ContactCreate", result["contact"])]
    if label == "POST /contacts/upsert":
        return [contact_event("ContactCreate" if result["new"] else "ContactUpdate", result["contact"])]
    if label == "PUT /contacts/{contactId}":
        events = [contact_event("ContactUpdate", result["contact"])]
        if "tags" in call.body:
            events.append(contact_event("ContactTagUpdate", result["contact"]))
        return events
    if label == "DELETE /contacts/{contactId}":
        # The record is gone when the hook runs: HighLevel's ContactDelete carries its last fields too.
        return [{"type": "ContactDelete", "locationId": location, "id": params["contactId"]}]
    if label in ("POST /contacts/{contactId}/tags", "DELETE /contacts/{contactId}/tags"):
        return [contact_event("ContactTagUpdate", stored(params["contactId"]))]
    if label == "POST /contacts/bulk/tags/update/{type}":
        return [
            contact_event("ContactTagUpdate", stored(r["contactId"]))
            for r in result["responses"]
            if r["type"] == "success"
        ]
    if label == "POST /contacts/bulk/business":
        return [contact_event("ContactUpdate", stored(i)) for i in result["ids"]]
    if label in ("POST /contacts/{contactId}/followers", "DELETE /contacts/{contactId}/followers"):
        return [contact_event("ContactUpdate", stored(params["contactId"]))]
    if label.endswith("/notes") or label.endswith("/notes/{id}"):
        kind = {"POST": "NoteCreate", "PUT": "NoteUpdate", "DELETE": "NoteDelete"}.get(call_method(label))
        if kind is None:
            return []
        note = result.get("note") or {"id": params.get("id"), "contactId": params["contactId"]}
        return [{"type": kind, "locationId": location, **_pick(note, _NOTE_FIELDS)}]
    if label.endswith("/tasks") or "/tasks/{taskId}" in label:
        method = call_method(label)
        task = result.get("task") or {"id": params.get("taskId"), "contactId": params["contactId"]}
        if method == "POST":
            kind = "TaskCreate"
        elif method == "DELETE":
            kind = "TaskDelete"
        elif method == "PUT" and call.body.get("completed") is True:
            kind = "TaskComplete"
        else:
            return []
        return [{"type": kind, "locationId": location, **_pick(task, _TASK_FIELDS)}]
    if label == "POST /calendars/events/appointments":
        appointment = {
            **_pick(result, _APPOINTMENT_FIELDS),
            "appointmentStatus": result.get("appointmentStatus"),
        }
        return [{"type": "AppointmentCreate", "locationId": location, "appointment": appointment}]
    return []


def call_method(label: str) -> str:
    """The HTTP method of a route label."""
    return label.split(" ", 1)[0]


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    url: str = field(compare=False)
    webhook_id: str = field(compare=False)
    kind: str = field(compare=False)
    body: bytes = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    tries: int = field(default=0, compare=False)


class WebhookSender:
    """
    Signs and delivers the sandbox's change events to subscribed URLs.

    :param urls: the subscribed URLs.
    :param retry_scale: factor on HighLevel's 10-minute retry delay (0.001 makes it 0.6 s).
    :param fault: a :data:`WEBHOOK_FAULTS` misbehaviour, or empty.
    :param timeout: seconds a subscriber has to answer.
    :param clock: the monotonic clock the retries are scheduled on (a test's clock simulates the delays;
        call :meth:`wake` after moving it).
    """

    def __init__(
        self,
        urls: list[str],
        retry_scale: float = 1.0,
        fault: str = "",
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if fault not in WEBHOOK_FAULTS:
            raise ValueError(f"webhook_fault must be one of {list(WEBHOOK_FAULTS)}, not {fault!r}")
        self.urls = list(urls)
        self.retry_scale = retry_scale
        self.fault = fault
        self.timeout = timeout
        self.clock = clock
        self.private_key = Ed25519PrivateKey.generate()
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        #: The public key as HighLevel prints its own: base64 of the SubjectPublicKeyInfo.
        self.public_key = base64.b64encode(public).decode()
        self.statuses: Counter[str] = Counter()
        self.emitted = 0
        self.pending = 0
        self.retries = 0
        self.lost = 0
        self._seq = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._wake: asyncio.Event | None = None
        self._queue: list[_Delivery] = []
        self._ready = threading.Event()
        self._stopping = False

    # -- producing -------------------------------------------------------------------------------------
    def on_change(self, label: str, call: Call, result: dict[str, Any]) -> None:
        """
        Queue the deliveries of one successful route call (called by the app; never blocks on the network).

        :param label: the route label.
        :param call: the request.
        :param result: the answer.
        """
        if not self.urls:
            return
        for payload in events_for(label, call, result):
            self.emit(payload)

    def emit(self, payload: dict[str, Any]) -> None:
        """
        Sign one event and queue it for every subscribed URL.

        :param payload: the event without ``timestamp`` and ``webhookId``.
        """
        now = datetime.now(timezone.utc)
        if self.fault == "stale":
            now -= timedelta(days=1)
        webhook_id = str(uuid.uuid4())
        body = json.dumps(
            {
                **payload,
                "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "webhookId": webhook_id,
            },
            separators=(",", ":"),
        ).encode()
        headers = {"content-type": "application/json"}
        if self.fault != "unsigned":
            headers["x-ghl-signature"] = base64.b64encode(self.private_key.sign(body)).decode()
        if self.fault == "tampered":
            body = body.replace(b'"locationId":"', b'"locationId":"X', 1)
        copies = 2 if self.fault == "duplicate" else 1
        with self._lock:
            self.emitted += 1
            for url in self.urls:
                for _ in range(copies):
                    self._seq += 1
                    self.pending += 1
                    item = _Delivery(self.clock(), self._seq, url, webhook_id, payload["type"], body, headers)
                    self._schedule(item)

    def _schedule(self, item: _Delivery) -> None:
        self._start()
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._push, item)

    def _push(self, item: _Delivery) -> None:
        heapq.heappush(self._queue, item)
        assert self._wake is not None
        self._wake.set()

    def wake(self) -> None:
        """Look at the queue again now (after a test moved :attr:`clock`)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def next_due(self) -> float | None:
        """When the next queued delivery is due, on :attr:`clock`; None when none is queued."""
        with self._lock:
            return self._queue[0].due if self._queue else None

    # -- delivering ------------------------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._wake = asyncio.Event()
        limit = asyncio.Semaphore(_CONCURRENCY)
        tasks: set[asyncio.Task[None]] = set()
        self._ready.set()
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            while not (self._stopping and not self._queue and not tasks):
                now = self.clock()
                while self._queue and self._queue[0].due <= now:
                    item = heapq.heappop(self._queue)
                    await limit.acquire()
                    task = asyncio.ensure_future(self._deliver(client, item, limit))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                self._wake.clear()
                wait = self._queue[0].due - self.clock() if self._queue else 0.5
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.001))

    async def _deliver(self, client: httpx.AsyncClient, item: _Delivery, limit: asyncio.Semaphore) -> None:
        item.tries += 1
        try:
            response = await client.post(item.url, content=item.body, headers=item.headers)
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        finally:
            limit.release()
        with self._lock:
            self.statuses[status] += 1
            if status == "429" and item.tries < MAX_TRIES:
                self.retries += 1
                item.due = self.clock() + RETRY_DELAY * self.retry_scale
                self._push(item)
                return
            if not status.startswith("2"):
                self.lost += 1
                log.info(
                    "webhook %s %s to %s lost after %d tries (%s)",
                    item.kind,
                    item.webhook_id,
                    item.url,
                    item.tries,
                    status,
                )
            self.pending -= 1

    def snapshot(self) -> dict[str, Any]:
        """Counters: events emitted, deliveries pending, answers by status, retries, deliveries lost."""
        with self._lock:
            return {
                "urls": self.urls,
                "fault": self.fault,
                "emitted": self.emitted,
                "pending": self.pending,
                "statuses": dict(self.statuses),
                "retries": self.retries,
                "lost": self.lost,
            }

    def close(self, timeout: float = 10.0) -> None:
        """
        Deliver what is due, then stop the thread (pending retries further away are dropped).

        :param timeout: seconds to wait for the thread.
        """
        if self._thread is None or self._loop is None:
            return
        self._stopping = True
        self._loop.call_soon_threadsafe(self._queue.clear)
        self._thread.join(timeout)


def attach(sb: Sandbox) -> WebhookSender | None:
    """
    Give the sandbox its sender (always: URLs can be subscribed at run time through ``/_sandbox/webhooks``).

    :param sb: the sandbox.
    """
    options = sb.options
    sender = WebhookSender(options.webhook_urls, options.webhook_retry_scale, options.webhook_fault)
    sb.webhooks = sender
    return sender


# -- admin ----------------------------------------------------------------------------------------------
def _sender(call: Call) -> WebhookSender:
    assert call.sb.webhooks is not None
    return call.sb.webhooks


@route("GET", "/_sandbox/webhooks", kind="admin")
async def webhook_stats(call: Call) -> dict[str, Any]:
    return _sender(call).snapshot()


@route("POST", "/_sandbox/webhooks", kind="admin")
async def configure_webhooks(call: Call) -> dict[str, Any]:
    sender = _sender(call)
    if "fault" in call.body:
        fault = call.body["fault"] or ""
        if fault not in WEBHOOK_FAULTS:
            from .errors import unprocessable

            raise unprocessable(f"fault must be one of {list(WEBHOOK_FAULTS)}")
        sender.fault = fault
    if "urls" in call.body:
        sender.urls = [str(u) for u in call.body["urls"]]
    return sender.snapshot()

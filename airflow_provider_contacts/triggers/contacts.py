"""
Deferrable triggers for the Contacts sensors, and the event trigger that lets an asset watch contacts.

Every trigger polls one :mod:`~airflow_provider_contacts.triggers.checks` condition, the same object a
sensor's ``poke`` evaluates, so the query logic exists once. A trigger runs that (synchronous) check code
on the event loop inside a ``greenback`` portal, the bridge Airflow's own triggerer sets up for every
trigger: each request the hook makes inside it is sent by the connection's async transport (``httpx``)
and awaited on the loop, so a trigger never blocks the loop and never holds a thread, not even while it
waits for a rate slot or a retry. All triggers of a connection share its one transport (token, rate
budget, HTTP pool) with every hook and sensor of the process.

Two triggers watch contact changes: :class:`ContactChangedPollTrigger` defers
:class:`~airflow_provider_contacts.sensors.ContactChangedSensor`, and :class:`ContactChangedEventTrigger`
watches for an asset (``AssetWatcher``), any number of them on one location sharing one search per poll
through Airflow 3.3's shared streams. :class:`ContactChangedTrigger`, the name DAGs already use in their
asset watchers, is the event trigger under that name.

Events of a deferred trigger (the sensor's ``execute_complete`` reads them):

- ``{"status": "success", "xcom": ..., "message": ...}``: the condition holds; ``xcom`` is the result.
- ``{"status": "skip" | "fail", ...}``: the condition can no longer hold (a closed window).
- ``{"status": "timeout", "message": ...}``: ``end_time`` passed first. The trigger ends itself at the
  sensor's timeout (``dag.test()`` and the triggerer alike); the sensor also defers with a slightly
  longer ``timeout`` as a backstop should an evaluation hang.
- ``{"status": "error", "message": ...}``: an evaluation raised (after the hook's own retries); the
  trigger reports it instead of dying.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import greenback
from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

from airflow_provider_contacts.coercion import to_float, to_int
from airflow_provider_contacts.triggers.checks import (
    BusinessContactsCheck,
    CheckResult,
    ContactAppointmentCheck,
    ContactChangedCheck,
    ContactNoteCheck,
    ContactsCheck,
    ContactSearchCheck,
    ContactTaskCheck,
    DuplicateContactCheck,
    to_api_time,
    utcnow,
)

if TYPE_CHECKING:
    from airflow_provider_contacts.hooks.contacts import ContactsHook

DEFAULT_CONN_ID = "contacts_default"
_T = TypeVar("_T")
#: Seconds between saves of a watcher's watermark when its polls find nothing new.
WATERMARK_SAVE_EVERY = 60.0
#: The share of the first interval over which the first evaluations of triggers started together spread.
FIRST_POLL_SPREAD = 0.1
#: Seconds a looked-up hook serves the triggers of its connection and location that start after it: a
#: connection edited meanwhile is read again by the triggers that start later.
READY_HOOK_TTL = 30.0
_READY_HOOKS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str | None], tuple[float, asyncio.Future[ContactsHook]]]
] = weakref.WeakKeyDictionary()


async def run_on_loop(fn: Callable[..., _T], *args: Any) -> _T:
    """
    Run synchronous check code on the event loop: its hook requests are awaited on the loop, over the
    async transport (the hook sees the ``greenback`` portal), so nothing blocks and no thread is held.

    :param fn: the function (a check's ``evaluate`` or ``fetch``).
    :param args: its arguments.
    """
    return await greenback.with_portal_run_sync(fn, *args)


def make_hook(contacts_conn_id: str, location_id: str | None = None) -> ContactsHook:
    """
    Build the hook (imported here so that importing this module never loads the connection machinery).

    :param contacts_conn_id: the connection id.
    :param location_id: the location; default: the connection's.
    """
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    return ContactsHook(contacts_conn_id=contacts_conn_id, location_id=location_id)


def poll_intervals(
    poll_interval: float, exponential_backoff: bool = False, max_wait: float | None = None
) -> Iterator[float]:
    """
    Yield the waits between polls: constant, or doubling from ``poll_interval`` up to ``max_wait``.

    :param poll_interval: the first wait, in seconds.
    :param exponential_backoff: double the wait after each poll.
    :param max_wait: the longest wait (seconds) with backoff; unbounded when None.
    """
    wait = float(poll_interval)
    while True:
        yield wait
        if exponential_backoff:
            wait = wait * 2 if max_wait is None else min(wait * 2, float(max_wait))


class ContactsPollTrigger(BaseTrigger):
    """
    Poll one check until it holds, can no longer hold, fails, or ``end_time`` passes; yield one event.

    Subclasses name their check in ``check_class``; every other keyword argument is the check's.

    :param contacts_conn_id: the connection.
    :param location_id: the location to poll; default: the connection's.
    :param poll_interval: seconds between evaluations.
    :param end_time: epoch seconds after which the trigger yields a ``timeout`` event; None: never.
    :param exponential_backoff: double the wait after each evaluation (up to ``max_wait``).
    :param max_wait: the longest wait, in seconds, with backoff.
    :param check_kwargs: the check's arguments (see its class).
    """

    check_class: ClassVar[type[ContactsCheck]]

    def __init__(
        self,
        *,
        contacts_conn_id: str = DEFAULT_CONN_ID,
        location_id: str | None = None,
        poll_interval: float = 60.0,
        end_time: float | None = None,
        exponential_backoff: bool = False,
        max_wait: float | None = None,
        **check_kwargs: Any,
    ) -> None:
        super().__init__()
        self.contacts_conn_id = contacts_conn_id
        self.location_id = location_id
        self.poll_interval = to_float(poll_interval, "poll_interval", minimum=0)
        self.end_time = None if end_time is None else to_float(end_time, "end_time")
        self.exponential_backoff = bool(exponential_backoff)
        self.max_wait = None if max_wait is None else to_float(max_wait, "max_wait", minimum=0)
        self.check = self.check_class(**check_kwargs)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and the keyword arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "contacts_conn_id": self.contacts_conn_id,
                "location_id": self.location_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "exponential_backoff": self.exponential_backoff,
                "max_wait": self.max_wait,
                **self.check.serialize(),
            },
        )

    def _hook(self) -> ContactsHook:
        return make_hook(self.contacts_conn_id, self.location_id)

    async def _ready_hook(self) -> ContactsHook:
        """
        The hook, its connection read and its transport found and prepared, in a thread: the lookup may
        import and read secrets backends. Triggers of one connection and location that start together (a
        triggerer restarting with two hundred deferred sensors) share one lookup, made at most once per
        :data:`READY_HOOK_TTL`, so that they neither queue two hundred jobs on the loop's thread pool nor
        fight the loop for the GIL. Nothing after it leaves the loop but a token load or refresh (about
        once a day per process).
        """
        loop = asyncio.get_running_loop()
        ready = _READY_HOOKS.setdefault(loop, {})
        key = (self.contacts_conn_id, self.location_id)
        found = ready.get(key)
        if found is None or found[0] < loop.time() or (found[1].done() and found[1].exception()):
            found = ready[key] = (
                loop.time() + READY_HOOK_TTL,
                asyncio.ensure_future(asyncio.to_thread(self._prepared_hook)),
            )
        return await asyncio.shield(found[1])

    def _prepared_hook(self) -> ContactsHook:
        hook = self._hook()
        transport = getattr(hook, "transport", None)
        if transport is not None:
            transport.aio.prepare()
        return hook

    async def evaluate(self, hook: ContactsHook) -> CheckResult:
        """
        Evaluate the check once, on the loop (see :func:`run_on_loop`).

        :param hook: the hook.
        """
        return await run_on_loop(self.check.evaluate, hook, utcnow())

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """
        Poll until there is something to report; yield exactly one event.

        The first evaluation comes about one interval after the start: the sensor evaluated just before it
        deferred, and evaluating again at once would only repeat that request. "About": a random part of
        the interval's last tenth is left out, so that triggers that start together (a triggerer restarting
        with two hundred of them) do not all evaluate in one turn of the event loop. The hook is looked up
        during the first wait, so it is ready when the wait ends.
        """
        looked_up = asyncio.ensure_future(self._ready_hook())
        try:
            hook: ContactsHook | None = None
            intervals = poll_intervals(self.poll_interval, self.exponential_backoff, self.max_wait)
            for n, wait in enumerate(intervals):
                if n == 0:
                    wait *= random.uniform(1 - FIRST_POLL_SPREAD, 1)
                if self.end_time is not None:
                    left = self.end_time - time.time()
                    if left <= 0:
                        message = f"{self.check.kind} check not met before the timeout"
                        yield TriggerEvent({"status": "timeout", "message": message})
                        return
                    wait = min(wait, left)
                await asyncio.sleep(wait)
                if hook is None:
                    hook = await looked_up
                result = await self.evaluate(hook)
                self.log.info("%s: %s", self.check.kind, result.message or result.status)
                if result.status != "waiting":
                    yield TriggerEvent(
                        {"status": result.status, "xcom": result.xcom, "message": result.message}
                    )
                    return
        except Exception as err:  # reported to the task instead of killing the trigger silently
            self.log.exception("contacts %s trigger failed", self.check.kind)
            yield TriggerEvent({"status": "error", "message": f"{type(err).__name__}: {err}"})
        finally:
            if not looked_up.done():
                looked_up.cancel()
            elif not looked_up.cancelled():
                looked_up.exception()  # retrieved, so a lookup that failed unused is not reported as lost


class ContactSearchTrigger(ContactsPollTrigger):
    """Defer until a search matches at least ``min_count`` contacts (see :class:`ContactSearchCheck`)."""

    check_class = ContactSearchCheck


class DuplicateContactTrigger(ContactsPollTrigger):
    """Defer until a contact with an email / phone exists (see :class:`DuplicateContactCheck`)."""

    check_class = DuplicateContactCheck


class ContactTaskTrigger(ContactsPollTrigger):
    """Defer until contacts have new, completed or due tasks (see :class:`ContactTaskCheck`)."""

    check_class = ContactTaskCheck


class ContactNoteTrigger(ContactsPollTrigger):
    """Defer until contacts have new notes (see :class:`ContactNoteCheck`)."""

    check_class = ContactNoteCheck


class ContactAppointmentTrigger(ContactsPollTrigger):
    """Defer until contacts have matching appointments (see :class:`ContactAppointmentCheck`)."""

    check_class = ContactAppointmentCheck


class BusinessContactsTrigger(ContactsPollTrigger):
    """Defer until a business has (new) contacts (see :class:`BusinessContactsCheck`)."""

    check_class = BusinessContactsCheck


class ContactChangedPollTrigger(ContactsPollTrigger):
    """
    Defer :class:`~airflow_provider_contacts.sensors.ContactChangedSensor`: one event for the window
    [since, until), with the semantics of :class:`~airflow_provider_contacts.triggers.checks.ContactChangedCheck`.
    A plain trigger, so the triggerer does not count it among the asset watchers.
    """

    check_class = ContactChangedCheck


class ContactChangedEventTrigger(ContactsPollTrigger, BaseEventTrigger):
    """
    Watch contacts for an asset: an event per poll that finds changes, with the changed contacts' ids.

    For example::

        Asset("contacts_changed", watchers=[AssetWatcher(name="contacts", trigger=ContactChangedEventTrigger(
            event="any", tags=["vip"], poll_interval=60))])

    **One poll for many watchers.** Watchers of one connection with the same ``filters``, ``poll_interval``
    and ``lag_margin`` share one stream (Airflow 3.3 shared streams): one search per interval for all of
    them, of everything that changed in the location, which each watcher narrows to its own ``event`` and
    ``tags``. Without a triggerer that shares streams, :meth:`run` polls alone (its own narrower search).

    **Watermark.** Each watcher keeps its own ``{"since", "seen"}``: the lower bound of the next query and,
    for the contacts changed at or after it, the change time already reported. Each poll covers [since,
    now), the new (id, change time) pairs are reported, then ``since`` moves to ``now - lag_margin``
    (everything older is indexed by then) and ``seen`` keeps only what lies after it: a change is reported
    once although the lag margin's tail is queried again, and a contact updated again later is reported
    again. A watcher whose saved watermark is older than the shared stream's start fetches the gap itself,
    once. The watermark is saved in the asset's state store (``self.asset_state_store``, Airflow 3.3)
    before the event is yielded, so a restarted triggerer resumes where it stopped and never repeats a
    change; without a state store it lives in memory for the trigger's life.

    A failed poll is logged and retried; ``max_consecutive_failures`` in a row raise, and the triggerer
    restarts the watcher (every watcher of the stream).

    :param max_consecutive_failures: failed polls in a row before raising.
    :param kwargs: :class:`ContactsPollTrigger`'s and the check's arguments (``event``, ``since``, ``filters``,
        ``tags``, ``lag_margin``, ``include_raw``). ``since`` is where to start without a saved watermark
        (default: now); ``until``, ``min_count``, ``on_empty`` and ``end_time`` do not apply.
    """

    check_class = ContactChangedCheck
    check: ContactChangedCheck
    #: The state-store key of the watermark.
    WATERMARK_KEY = "contacts_changed_watermark"

    def __init__(self, *, max_consecutive_failures: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_consecutive_failures = to_int(
            max_consecutive_failures, "max_consecutive_failures", minimum=1
        )
        self._memory_watermark: dict[str, Any] | None = None
        self._saved_at = float("-inf")

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and the keyword arguments that rebuild this trigger."""
        classpath, kwargs = super().serialize()
        kwargs.update(max_consecutive_failures=self.max_consecutive_failures)
        return classpath, kwargs

    # -------------------------------------------------------------------------------- shared stream

    def shared_stream_key(self) -> Hashable | None:
        """Watchers with this key share one poll: connection, location, filters, interval and lag margin."""
        filters = json.dumps(self.check.filters or [], sort_keys=True)
        return (
            "contacts-changed",
            self.contacts_conn_id,
            self.location_id,
            filters,
            self.poll_interval,
            self.check.lag_margin,
        )

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        """
        The one poll of a group: every change in the location (under the group's ``filters``) since the
        stream started, one search per interval. Raw events: ``{"start", "polled_at", "contacts"}``.

        :param kwargs: one member's arguments (only the fields of the key are used).
        """
        poller = cls(**{**kwargs, "event": "any", "tags": None, "since": None})
        # Back by an interval: watchers created with the stream (a triggerer starting) need no catch-up.
        reach = max(poller.check.lag_margin, poller.poll_interval)
        start = to_api_time(utcnow() - timedelta(seconds=reach))
        async for batch in poller._poll(poller.check, start):
            yield batch

    async def _poll(self, check: ContactChangedCheck, since: str | None) -> AsyncIterator[dict[str, Any]]:
        """
        Search [since, now) once per interval, moving ``since`` to ``now - lag_margin`` after each.

        The polls keep a fixed rate (one starts every interval, however long the last took) and go ahead
        of the location's queued requests (:func:`ahead_of_the_queue`): one search per interval starts the
        runs of every watcher on the location, while deferred sensors can wait a slot longer.
        """
        hook = await self._ready_hook()
        # Imported only now: the lookup's thread has loaded the transport, so this is no longer the 0.1 s
        # import that would otherwise stop the loop (this module loads none of it, for DAG parse time).
        from airflow_provider_contacts.transport.limiter import ahead_of_the_queue

        failures = 0
        loop = asyncio.get_running_loop()
        for wait in poll_intervals(self.poll_interval, self.exponential_backoff, self.max_wait):
            polled_at = utcnow()
            next_poll = loop.time() + wait
            try:
                with ahead_of_the_queue():
                    contacts = await run_on_loop(check.fetch, hook, since, None)
            except Exception as err:
                failures += 1
                if failures >= self.max_consecutive_failures:
                    raise
                self.log.warning("poll failed (%s/%s): %r", failures, self.max_consecutive_failures, err)
            else:
                failures = 0
                yield {"start": since, "polled_at": polled_at, "contacts": contacts}
                settled = to_api_time(polled_at - timedelta(seconds=check.lag_margin))
                since = settled if since is None or (settled and settled > since) else since
            await asyncio.sleep(max(0.0, next_poll - loop.time()))

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        """
        This watcher's events from the shared polls: its own event kind and tags, its own watermark.

        :param shared_stream: the raw events of :meth:`open_shared_stream`.
        """
        watermark = await self._start_watermark()
        gap_checked = False
        async for batch in shared_stream:
            contacts = [c for c in batch["contacts"] if self._wanted(c, watermark["since"])]
            if not gap_checked and batch["start"] is not None and watermark["since"] < batch["start"]:
                # Saved before the stream started (a restart): fetch the gap once, with this watcher's filters.
                hook = await self._ready_hook()
                gap = await run_on_loop(self.check.fetch, hook, watermark["since"], batch["start"])
                contacts = gap + contacts
            gap_checked = True
            watermark, event = await self._report(watermark, contacts, batch["polled_at"])
            if event is not None:
                yield event

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll alone (a triggerer that does not share streams): this watcher's own search from its watermark."""
        watermark = await self._start_watermark()

        async def own_stream() -> AsyncIterator[dict[str, Any]]:
            async for batch in self._poll(self.check, watermark["since"]):
                yield batch

        async for event in self.filter_shared_stream(own_stream()):
            yield event

    def _wanted(self, contact: dict[str, Any], since: str) -> bool:
        tags = set(self.check.tags or [])
        if tags and not tags <= set(contact.get("tags") or []):
            return False
        return self.check.in_window(contact, since, None)

    async def _start_watermark(self) -> dict[str, Any]:
        watermark = await self.load_watermark()
        if watermark is None:
            watermark = {"since": self.check.since or to_api_time(utcnow()), "seen": {}}
            await self.save_watermark(watermark)
        return watermark

    async def _report(
        self, watermark: dict[str, Any], contacts: list[dict[str, Any]], polled_at: datetime
    ) -> tuple[dict[str, Any], TriggerEvent | None]:
        """Advance and save the watermark; the event for the new changes, if any."""
        new, next_watermark = self.advance(watermark, contacts, polled_at)
        now = time.monotonic()
        if new or now - self._saved_at >= WATERMARK_SAVE_EVERY:
            await self.save_watermark(next_watermark)
            self._saved_at = now
        else:
            # An empty poll only moves ``since`` on: kept in memory, saved with the next event or once a
            # while. Every save goes through the triggerer's supervisor; one per poll made the filter fall
            # behind its stream on a loaded deployment (minutes late). A restart then queries a longer gap.
            self._memory_watermark = next_watermark
        if not new:
            return next_watermark, None
        window_start = watermark["since"]
        self.log.info("%d contact(s) changed since %s", len(new), window_start)
        return next_watermark, TriggerEvent(
            {
                "status": "success",
                "event": self.check.event,
                "count": len(new),
                "contact_ids": [c["id"] for c in new],
                "contacts": [self.check.describe(c, window_start, None) for c in new],
                "watermark": next_watermark["since"],
            }
        )

    # ------------------------------------------------------------------------------------ watermark

    @property
    def watermark_key(self) -> str:
        """The state-store key of this watcher's watermark: one per location, when one is named."""
        return f"{self.WATERMARK_KEY}__{self.location_id}" if self.location_id else self.WATERMARK_KEY

    def _state_store(self) -> Any | None:
        return getattr(self, "asset_state_store", None)

    async def load_watermark(self) -> dict[str, Any] | None:
        """The saved watermark: from the asset's state store when there is one, else from memory."""
        store = self._state_store()
        if store is not None:
            try:
                value = await store.aget(self.watermark_key)
            except Exception as err:  # several assets, no supervisor, an older Airflow: stay in memory
                self.log.warning("asset state store unavailable (%s); keeping the watermark in memory", err)
            else:
                if isinstance(value, dict):
                    return value
        return self._memory_watermark

    async def save_watermark(self, watermark: dict[str, Any]) -> None:
        """
        Keep the watermark in memory and, when there is one, in the asset's state store.

        :param watermark: ``{"since": api time, "seen": {contact id: change time}}``.
        """
        self._memory_watermark = watermark
        store = self._state_store()
        if store is not None:
            try:
                await store.aset(self.watermark_key, watermark)
            except Exception as err:
                self.log.warning("could not save the watermark in the asset state store: %s", err)

    def advance(
        self, watermark: dict[str, Any], contacts: list[dict[str, Any]], polled_at: datetime
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """
        Split a poll's contacts into new changes and the next watermark (pure; no I/O).

        :param watermark: the current watermark.
        :param contacts: what the poll of [watermark since, now) returned.
        :param polled_at: when the poll started (UTC).
        :return: the changes not reported before, and the next watermark.
        """
        seen: dict[str, str] = dict(watermark.get("seen") or {})
        since = watermark["since"]
        new = []
        for contact in contacts:
            stamp = self.check.change_time(contact)
            if stamp is not None and seen.get(contact["id"]) != stamp:
                new.append(contact)
                seen[contact["id"]] = stamp
        next_since = max(since, to_api_time(polled_at - timedelta(seconds=self.check.lag_margin)) or since)
        return new, {"since": next_since, "seen": {k: v for k, v in seen.items() if v >= next_since}}


class ContactChangedTrigger(ContactChangedEventTrigger):
    """
    The asset-watcher trigger under the name DAGs already use: a :class:`ContactChangedEventTrigger`.

    Sensors defer with :class:`ContactChangedPollTrigger`.

    :param kwargs: :class:`ContactChangedEventTrigger`'s arguments.
    """

"""
Deferrable triggers for the Contacts sensors, and the event trigger that lets an asset watch contacts.

Every trigger polls one :mod:`~airflow_provider_contacts.triggers.checks` condition, the same object a
sensor's ``poke`` evaluates, so the query logic exists once. The hook is blocking (``requests``), so each
evaluation runs in a worker thread (``asyncio.to_thread``): the triggerer's event loop never waits on
the network.

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
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

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
        self.poll_interval = float(poll_interval)
        self.end_time = None if end_time is None else float(end_time)
        self.exponential_backoff = bool(exponential_backoff)
        self.max_wait = None if max_wait is None else float(max_wait)
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

    async def evaluate(self, hook: ContactsHook) -> CheckResult:
        """
        Evaluate the check once, in a worker thread.

        :param hook: the hook (its blocking requests run in the thread too).
        """
        return await asyncio.to_thread(self.check.evaluate, hook, utcnow())

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """
        Poll until there is something to report; yield exactly one event.

        The first evaluation comes one interval after the start: the sensor evaluated just before it
        deferred, and evaluating again at once would only repeat that request.
        """
        try:
            hook = self._hook()
            for wait in poll_intervals(self.poll_interval, self.exponential_backoff, self.max_wait):
                if self.end_time is not None:
                    left = self.end_time - time.time()
                    if left <= 0:
                        message = f"{self.check.kind} check not met before the timeout"
                        yield TriggerEvent({"status": "timeout", "message": message})
                        return
                    wait = min(wait, left)
                await asyncio.sleep(wait)
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


class ContactChangedTrigger(ContactsPollTrigger, BaseEventTrigger):
    """
    Contacts created or updated: defers :class:`ContactChangedSensor`, or watches contacts for an asset.

    **Deferred** (``watch=False``, as the sensor builds it): one event for the window [since, until), with
    the semantics of :class:`~airflow_provider_contacts.triggers.checks.ContactChangedCheck`.

    **Watching** (inside an ``AssetWatcher``; ``watch=None`` detects it: a trigger that belongs to no task
    instance is a watcher)::

        Asset("contacts_changed", watchers=[AssetWatcher(name="contacts", trigger=ContactChangedTrigger(
            event="any", tags=["vip"], poll_interval=60))])

    It polls forever and yields one event per poll that finds changes, with the changed contacts' ids,
    so a DAG scheduled on the asset runs once per batch. Its watermark is ``{"since", "seen"}``: the
    lower bound of the next query and, for the contacts changed at or after it, the change time already
    reported. Each poll queries [since, now) (one request per 500 changes), reports the (id, change time)
    pairs not in ``seen``, then moves ``since`` to ``now - lag_margin`` (everything older is indexed by
    then) and keeps in ``seen`` only what lies after it. A change is reported once even though the tail of
    the lag margin is queried again, and a contact updated again later is reported again (a new change).

    The watermark is saved in the asset's state store (``self.asset_state_store``, Airflow 3.3) before
    the event is yielded, so a restarted triggerer resumes where it stopped and never repeats a change
    (a crash between the save and the event's delivery would lose that batch rather than repeat it).
    Without a state store it is kept in memory for the trigger's life. In watch mode a failed poll is
    logged and retried (an error event would start the DAG); ``max_consecutive_failures`` in a row raise,
    and the triggerer restarts the watcher.

    :param watch: ``True`` watch forever, ``False`` one deferred event, ``None`` detect.
    :param max_consecutive_failures: in watch mode, failed polls in a row before raising.
    :param kwargs: :class:`ContactsPollTrigger`'s and the check's arguments (``event``, ``since``,
        ``until``, ``filters``, ``tags``, ``lag_margin``, ``min_count``, ``on_empty``, ``include_raw``).
        In watch mode ``since`` is where to start when there is no saved watermark (default: now) and
        ``until``, ``min_count`` and ``on_empty`` are ignored.
    """

    check_class = ContactChangedCheck
    check: ContactChangedCheck
    #: The state-store key of the watermark.
    WATERMARK_KEY = "contacts_changed_watermark"

    def __init__(
        self, *, watch: bool | None = None, max_consecutive_failures: int = 10, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.watch = watch
        if max_consecutive_failures < 1:
            raise ValueError("max_consecutive_failures must be at least 1")
        self.max_consecutive_failures = int(max_consecutive_failures)
        self._memory_watermark: dict[str, Any] | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and the keyword arguments that rebuild this trigger."""
        classpath, kwargs = super().serialize()
        kwargs.update(watch=self.watch, max_consecutive_failures=self.max_consecutive_failures)
        return classpath, kwargs

    @property
    def watching(self) -> bool:
        """Whether this trigger watches for an asset (rather than serving one deferred sensor)."""
        if self.watch is not None:
            return self.watch
        return self.task_instance is None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """One deferred event, or (watching) one event per batch of changes, forever."""
        inner = self._watch() if self.watching else super().run()
        async for event in inner:
            yield event

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

    async def _watch(self) -> AsyncIterator[TriggerEvent]:
        hook = self._hook()
        watermark = await self.load_watermark()
        if watermark is None:
            watermark = {"since": self.check.since or to_api_time(utcnow()), "seen": {}}
            await self.save_watermark(watermark)
        failures = 0
        for wait in poll_intervals(self.poll_interval, self.exponential_backoff, self.max_wait):
            polled_at = utcnow()
            try:
                contacts = await asyncio.to_thread(self.check.fetch, hook, watermark["since"], None)
            except Exception as err:
                failures += 1
                if failures >= self.max_consecutive_failures:
                    raise
                self.log.warning("poll failed (%s/%s): %r", failures, self.max_consecutive_failures, err)
            else:
                failures = 0
                new, next_watermark = self.advance(watermark, contacts, polled_at)
                if next_watermark != watermark:
                    await self.save_watermark(next_watermark)
                window_start = watermark["since"]
                watermark = next_watermark
                if new:
                    self.log.info("%d contact(s) changed since %s", len(new), window_start)
                    yield TriggerEvent(
                        {
                            "status": "success",
                            "event": self.check.event,
                            "count": len(new),
                            "contact_ids": [c["id"] for c in new],
                            "contacts": [self.check.describe(c, window_start, None) for c in new],
                            "watermark": watermark["since"],
                        }
                    )
            await asyncio.sleep(wait)

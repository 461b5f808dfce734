"""
The location's rate budget on the client side: a rolling window shared by every thread and coroutine of
a process, and optionally by every process through Redis (:mod:`~airflow_provider_contacts.transport.shared`).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import heapq
import itertools
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import date, datetime, timezone
from itertools import islice
from typing import TYPE_CHECKING

from airflow_provider_contacts.coercion import header_number as _header_number
from airflow_provider_contacts.exceptions import ContactsRateLimitError

if TYPE_CHECKING:
    from airflow_provider_contacts.transport.shared import RedisWindow

log = logging.getLogger(__name__)

#: Slots of each window that coroutines leave to urgent requests (:func:`ahead_of_the_queue`): two
#: hundred deferred sensors can fill a window in one burst, and a watcher's search would then wait a
#: whole window for the next free slot. Threads (bulk work in tasks) use the whole window.
URGENT_RESERVE = 2
#: After the shared backend fails, how long this process keeps to its own limiter before trying it again.
SHARED_RETRY_AFTER = 30.0
#: How long a request without an answer keeps its rate slot at most, when the limiter is not told.
DEFAULT_HOLD = 60.0


#: Set (by :func:`ahead_of_the_queue`) for the requests of the current task that go before queued ones.
_URGENT: ContextVar[bool] = ContextVar("contacts_rate_urgent", default=False)


@contextlib.contextmanager
def ahead_of_the_queue() -> Iterator[None]:
    """
    Let the requests this task sends inside the block take the next free rate slot before any coroutine
    already queued for one.

    For the few requests everything else waits on: an asset watcher's one search per poll interval starts
    DAG runs for the whole deployment, while two hundred deferred sensors can wait a slot longer.
    """
    reset = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(reset)


class _Turns:
    """
    The order in which the coroutines of one event loop watch the window: urgent ones first, the others
    first come, first served. Only the coroutine whose turn it is waits on the window, so a free slot
    costs the loop one wake-up, not one per waiting coroutine. An urgent coroutine that arrives while an
    ordinary one waits its turn out wakes it: the ordinary one steps back to the head of its queue.
    """

    def __init__(self) -> None:
        self._taken = False
        self._holder_urgent = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        self._nudge: asyncio.Future[None] | None = None

    def place(self) -> int:
        """A new place in the queue (keep it to queue again at the same place)."""
        return next(self._arrivals)

    @contextlib.asynccontextmanager
    async def turn(self, urgent: bool, place: int) -> AsyncIterator[None]:
        if self._taken or self._waiting:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (0 if urgent else 1, place, future))
            if urgent and not self._holder_urgent and self._nudge is not None and not self._nudge.done():
                self._nudge.set_result(None)
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._pass_on()  # handed the turn just as it was cancelled: hand it on
                raise
        else:
            self._taken = True
        self._holder_urgent = urgent
        try:
            yield
        finally:
            self._pass_on()

    async def wait(self, delay: float) -> bool:
        """
        Wait (the turn's holder) up to ``delay`` seconds for the window.

        :return: True when an urgent coroutine came meanwhile and an ordinary holder should step back.
        """
        if not self._holder_urgent and self._waiting and self._waiting[0][0] == 0:
            return True
        self._nudge = asyncio.get_running_loop().create_future()
        try:
            done, _ = await asyncio.wait({self._nudge}, timeout=delay)
        finally:
            self._nudge = None
        return bool(done)

    def _pass_on(self) -> None:
        while self._waiting:
            future = heapq.heappop(self._waiting)[2]
            if not future.done():  # a cancelled waiter's future is done
                future.set_result(None)
                return
        self._taken = False


def utc_today() -> date:
    """Today in UTC: the daily budget's day (the sandbox's and the Redis counter's assumption)."""
    return datetime.now(timezone.utc).date()


def daily_exhausted_error() -> ContactsRateLimitError:
    """The error every request gets once the location's daily budget is spent."""
    return ContactsRateLimitError(
        "the location's daily request budget is exhausted (X-RateLimit-Daily-Remaining: 0); it renews "
        "daily. Requests resume by themselves after the renewal; nothing was sent",
        status=429,
    )


class RollingWindowLimiter:
    """
    Never lets more than ``limit`` requests start within any ``window`` seconds.

    The API counts requests as they arrive, over a rolling window, so a fixed bucket that refills on the
    second is not enough: two bursts on either side of a refill would break the limit. The limiter keeps,
    for each of the last ``limit`` requests, a time by which it surely reached the server, and lets a new
    one start only once the oldest of those is a full window in the past. That time is the answer's
    (:meth:`release`): a request cannot arrive after its answer, however long it queued on the way, so
    the client's window can never run ahead of the server's. Until its answer comes a request holds its
    slot, however long that takes: a request that waited longer than a window in a starved server's
    backlog may still arrive and be counted, and a slot handed on meanwhile would make the server answer
    429. Only a slot never released (its caller died between :meth:`acquire` and :meth:`release`) is
    freed without an answer, :attr:`hold` seconds after its start.

    It paces itself from the ``X-RateLimit-*`` headers: a smaller ``X-RateLimit-Max`` or a longer
    ``X-RateLimit-Interval-Milliseconds`` than configured wins; an ``X-RateLimit-Remaining`` lower than this
    process's own use explains means another client spends the same budget, and the difference is booked
    as foreign requests that leave the window a window later, so the limiter slows down before the server
    says 0 rather than after; an exhausted daily budget makes every further request fail fast.

    Threads wait in :meth:`acquire`, coroutines in :meth:`aacquire` (on the loop's timer, holding no
    thread); both take from the same budget. With :attr:`shared` set (connection extra
    ``rate_limit_backend``), the window is kept in Redis for every process, and this limiter falls back to
    its own window, with a warning, whenever Redis does not answer.

    :param limit: requests allowed per window.
    :param window: window length in seconds.
    :param clock: monotonic clock (tests pass a fake one).
    :param utc_day: today's date in UTC, when a spent daily budget renews (tests pass a pinned one).
    :param hold: the longest a request without an answer keeps its slot, in seconds: longer than any
        request can wait for its answer (the transport passes twice its timeout).
    """

    def __init__(
        self,
        limit: int,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        utc_day: Callable[[], date] = utc_today,
        hold: float = DEFAULT_HOLD,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        if hold <= 0:
            raise ValueError("hold must be positive")
        self.limit = limit
        self.window = window
        #: How long a request without an answer keeps its slot at most (see the class's description).
        self.hold = hold
        self._clock = clock
        # When each request of the window reached the server at the latest, sorted; a request still
        # waiting for its answer is there as its start plus ``hold``, a time still to come.
        self._arrivals: list[float] = []
        # Requests of other clients on the same budget, inferred from X-RateLimit-Remaining.
        self._foreign: deque[float] = deque()
        # Every recent start, kept longer than the window: an answer arrives a latency after its request
        # started, and the server counted the window from the request's arrival, not from the answer's.
        self._recent: deque[float] = deque(maxlen=4 * limit)
        # Recent round trips: how late a request of ours may have reached the server after its start.
        self._round_trips: deque[float] = deque(maxlen=100)
        # A monotonic clock's reference point is undefined (it may read 0 or less after a boot): "not paused"
        # and "the backend is up" are -inf, never 0.
        self._paused_until = float("-inf")
        self._utc_day = utc_day
        # The UTC day whose budget the server said is spent: requests resume by themselves the next day.
        self._day_spent: date | None = None
        # This process's own requests on the UTC day ``_day`` (the operations view's "today").
        self._day: date | None = None
        self._today = 0
        self._cond = threading.Condition()
        # Threads take turns at watching the window: only the first in line waits for a slot to free, so a
        # free slot wakes one thread, not every thread of a bulk job (a hundred wake-ups per slot otherwise).
        self._turn = threading.Lock()
        # The window entry whose departure the thread watching the window waits for (+inf: none known). An
        # answer wakes that thread only when it leaves the window before this entry does: the first answer
        # of a full window, not each of its hundred (they came in the very burst the process's CPU is busy).
        self._slot_frees_with = float("inf")
        #: The budget shared through Redis, when the connection names a backend.
        self.shared: RedisWindow | None = None
        self._shared_down_until = float("-inf")
        self._shared_slots: dict[float, list[str]] = {}
        self._loop_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = (
            weakref.WeakKeyDictionary()
        )

    def _check_day(self) -> None:
        """Raise while the server's daily budget is spent: until the UTC day it was spent on is over."""
        if self._day_spent is not None:
            if self._utc_day() == self._day_spent:
                raise daily_exhausted_error()
            self._day_spent = None

    @property
    def margin(self) -> float:
        """How late after its start a request may reach the server, before round trips have been seen."""
        return 0.02 * self.window + 0.02

    # ------------------------------------------------------------------------------ the local window

    def _prune(self, now: float) -> float:
        """Forget the starts that left the window; return the window's lower edge."""
        horizon = now - self.window
        # The epsilon keeps float rounding from leaving a start a hair inside the window forever.
        cut = bisect.bisect_right(self._arrivals, horizon + 1e-9)
        del self._arrivals[:cut]
        while self._foreign and self._foreign[0] <= horizon + 1e-9:
            self._foreign.popleft()
        return horizon

    def _claim(self, now: float, reserve: int = 0) -> float:
        """Under the lock: take a local slot and return 0, or return how long to wait for one."""
        self._check_day()
        horizon = self._prune(now)
        delay = self._paused_until - now
        if delay > 0:
            return delay
        over = len(self._arrivals) + len(self._foreign) - max(1, self.limit - reserve)
        if over >= 0:
            # The slot frees when the (over+1)-th oldest arrival, ours or foreign, leaves the window. A
            # request still waiting for its answer leaves it no sooner than a window from now.
            oldest = next(islice(heapq.merge(self._arrivals, self._foreign), over, None))
            self._slot_frees_with = oldest
            return self.window if oldest > now else max(oldest - horizon, 1e-3)
        self._record(now)
        return 0.0

    def _record(self, now: float) -> None:
        bisect.insort(self._arrivals, now + self.hold)
        self._recent.append(now)
        day = self._utc_day()
        if day != self._day:
            self._day, self._today = day, 0
        self._today += 1

    def usage(self) -> tuple[int, int]:
        """
        What this process knows of the budget: requests in the current window (its own and the foreign ones
        the headers revealed), and its own requests this UTC day.
        """
        with self._cond:
            self._prune(self._clock())
            today = self._today if self._day == self._utc_day() else 0
            return len(self._arrivals) + len(self._foreign), today

    def release(self, started_at: float, answered_at: float | None = None) -> None:
        """
        Say that the request started at ``started_at`` has its answer (or failed): it reached the server
        by then at the latest, which fixes when it leaves the window.

        :param started_at: what :meth:`acquire` returned.
        :param answered_at: when the answer came, on the limiter's clock; default: now.
        """
        slot = self._release_local(started_at, answered_at)
        if slot is not None and self.shared is not None:
            try:
                self.shared.release(slot)
            except Exception as err:  # the slot then leaves the shared window a window after its hold
                log.debug("could not release a shared rate slot: %s", err)

    async def arelease(self, started_at: float) -> None:
        """
        :meth:`release` for a coroutine.

        :param started_at: what :meth:`aacquire` returned.
        """
        slot = self._release_local(started_at, None)
        if slot is not None and self.shared is not None:
            try:
                await self.shared.arelease(slot)
            except Exception as err:
                log.debug("could not release a shared rate slot: %s", err)

    def _release_local(self, started_at: float, answered_at: float | None) -> str | None:
        with self._cond:
            answered = self._clock() if answered_at is None else answered_at
            self._round_trips.append(answered - started_at)
            waiting = started_at + self.hold
            index = bisect.bisect_left(self._arrivals, waiting - 1e-9)
            if index < len(self._arrivals) and abs(self._arrivals[index] - waiting) <= 1e-9:
                del self._arrivals[index]
                bisect.insort(self._arrivals, answered)
            if answered < self._slot_frees_with or self.shared is not None:
                # The slot frees sooner than the watching thread was told (the shared window's own
                # arithmetic is Redis's: any answer may matter there).
                self._cond.notify_all()
            slots = self._shared_slots.get(started_at)
            if not slots:
                return None
            slot = slots.pop()
            if not slots:
                del self._shared_slots[started_at]
            return slot

    # ----------------------------------------------------------------------------- taking a slot

    def _gate(self, reserve: int) -> tuple[RedisWindow | None, tuple[float | None, float] | None]:
        """
        The local part of taking a slot: the whole decision without a shared backend; with one, the pause
        and the daily budget (the shared window decides the rest).
        """
        shared = self._live_shared()
        with self._cond:
            now = self._clock()
            if shared is None:
                delay = self._claim(now, reserve)
                return None, ((now, 0.0) if delay == 0 else (None, delay))
            self._check_day()
            delay = self._paused_until - now
            return shared, ((None, delay) if delay > 0 else None)

    def try_acquire(self, reserve: int = 0) -> tuple[float | None, float]:
        """
        Take a slot if one is free now, without waiting.

        :param reserve: slots of the window to leave free (the urgent requests' reserve).
        :return: ``(start time, 0)`` when taken, else ``(None, seconds to wait before asking again)``.
        """
        shared, decided = self._gate(reserve)
        if shared is None or decided is not None:
            return decided  # type: ignore[return-value]
        try:
            slot, delay = shared.try_acquire(reserve)
        except ContactsRateLimitError:
            raise
        except Exception as err:
            self._shared_failed(err)
            return self.try_acquire(reserve)
        return self._after_shared(slot, delay)

    def _after_shared(self, slot: str | None, delay: float) -> tuple[float | None, float]:
        if slot is None:
            return None, delay
        with self._cond:
            now = self._clock()
            self._record(now)
            self._shared_slots.setdefault(now, []).append(slot)
            return now, 0.0

    def acquire(self) -> float:
        """Block until a request may start; return its start time on the limiter's clock."""
        if not self._turn.locked():
            # No thread is waiting for the window: a free slot is taken without queueing for the turn (a
            # lock less per request while the window has room).
            started_at, _ = self.try_acquire()
            if started_at is not None:
                return started_at
        with self._turn:
            while True:
                started_at, delay = self.try_acquire()
                if started_at is not None:
                    return started_at
                with self._cond:
                    # Woken early by an answer or a header that changed the budget; otherwise the delay runs out.
                    self._cond.wait(delay)

    async def aacquire(self) -> float:
        """
        Wait, on the event loop's timer and holding no thread, until a request may start.

        Coroutines of a loop queue for their turn (:class:`_Turns`), first come first served except that
        those inside :func:`ahead_of_the_queue` go first; only the one whose turn it is watches the window,
        so two hundred waiting triggers cost the loop one wake-up per free slot, not two hundred.
        """
        loop = asyncio.get_running_loop()
        turns = self._loop_turns.get(loop)
        if turns is None:
            turns = self._loop_turns[loop] = _Turns()
        urgent = _URGENT.get()
        reserve = 0 if urgent else URGENT_RESERVE
        place = turns.place()
        while True:
            async with turns.turn(urgent, place):
                while True:
                    started_at, delay = await self._atry_acquire(reserve)
                    if started_at is not None:
                        return started_at
                    if await turns.wait(delay):
                        break  # an urgent request came: let it go first, then queue again at this place

    async def _atry_acquire(self, reserve: int = 0) -> tuple[float | None, float]:
        # The local decision takes microseconds under a lock no one holds for long: fine on the loop.
        shared, decided = self._gate(reserve)
        if shared is None or decided is not None:
            return decided  # type: ignore[return-value]
        try:
            slot, delay = await shared.atry_acquire(reserve)
        except ContactsRateLimitError:
            raise
        except Exception as err:
            self._shared_failed(err)
            return self.try_acquire(reserve)
        return self._after_shared(slot, delay)

    # --------------------------------------------------------------------------- the shared budget

    def _live_shared(self) -> RedisWindow | None:
        if self.shared is None or self._clock() < self._shared_down_until:
            return None
        return self.shared

    def _shared_failed(self, err: Exception) -> None:
        self._shared_down_until = self._clock() + SHARED_RETRY_AFTER
        log.warning(
            "rate_limit_backend %s did not answer (%s: %s); this process keeps to its own limiter and tries "
            "the backend again in %.0f s",
            self.shared.label if self.shared else "?",
            type(err).__name__,
            err,
            SHARED_RETRY_AFTER,
        )

    # ------------------------------------------------------------------------------ from the server

    def pause(self, seconds: float) -> None:
        """Let no request start for ``seconds`` (after a 429, with the server's ``Retry-After``)."""
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _own_share(self, started_at: float) -> int:
        """
        How many of the requests the server counted when the request started at ``started_at`` arrived
        could be ours: those started within a window (and the slowest recent round trip) before it, and
        every one started since, since a later request can overtake it on the way.
        """
        edge = started_at - self.window - self._slowest()
        # The starts are in order (each is taken under the lock from a monotonic clock).
        return len(self._recent) - bisect.bisect_right(self._recent, edge)

    def _slowest(self) -> float:
        """How long after its start a request of ours may have reached the server (under the lock)."""
        return max(self.margin, max(self._round_trips, default=0.0))

    def update_from_headers(self, headers: Mapping[str, str], started_at: float | None = None) -> None:
        """
        Adjust the budget to the ``X-RateLimit-*`` headers of an answer.

        :param headers: the answer's headers.
        :param started_at: when its request started (what :meth:`acquire` returned); without it the current
            time stands in for the request's.
        """
        max_requests = _header_number(headers, "X-RateLimit-Max")
        interval_ms = _header_number(headers, "X-RateLimit-Interval-Milliseconds")
        remaining = _header_number(headers, "X-RateLimit-Remaining")
        daily_remaining = _header_number(headers, "X-RateLimit-Daily-Remaining")
        daily_limit = _header_number(headers, "X-RateLimit-Limit-Daily")
        with self._cond:
            # Headers only tighten the budget, so they wake no waiting thread, except to refuse at once.
            if max_requests is not None and 1 <= max_requests < self.limit:
                self.limit = int(max_requests)
            if interval_ms is not None and interval_ms / 1000.0 > self.window:
                self.window = interval_ms / 1000.0
            if daily_remaining is not None and daily_remaining <= 0 and self._day_spent != self._utc_day():
                self._day_spent = self._utc_day()
                self._cond.notify_all()
            if remaining is not None and self.shared is None:
                self._book_foreign(int(remaining), self._clock() if started_at is None else started_at)
        if self.shared is not None and (max_requests or interval_ms or daily_remaining is not None):
            self.shared.configure(self.limit, self.window, self.hold, daily_limit, daily_remaining)

    def _book_foreign(self, remaining: int, started_at: float) -> None:
        """Book as foreign the requests the server counted that cannot be ours (under the lock)."""
        foreign = self.limit - remaining - self._own_share(started_at)
        if foreign <= 0:
            return
        edge = started_at - self.window - self._slowest()
        booked = sum(1 for start in self._foreign if start > edge)
        if foreign > booked:
            # They reached the server before this answer was sent: booked at its arrival, they leave the
            # window no later than the server lets them go.
            self._foreign.extend([self._clock()] * (foreign - booked))
            self._foreign = deque(sorted(self._foreign))

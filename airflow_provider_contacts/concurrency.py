"""
The one bounded thread pool (concurrent requests under the rate budget, items read lazily), and calls that
threads asking for the same thing at once share (:class:`SharedCalls`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from airflow_provider_contacts.exceptions import ContactsConfigError

T = TypeVar("T")
R = TypeVar("R")

_STOP = object()


def bounded_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    in_flight: int | Callable[[], int] | None = None,
    name: str = "contacts",
    read_anywhere: bool = False,
) -> Iterator[tuple[T, R]]:
    """
    Run ``fn`` over ``items`` on ``workers`` threads; yield ``(item, result)`` as each finishes.

    Items are read one at a time, only when a slot is free, so memory stays flat for any number of them
    (and a generator of items may do work between them, on the caller's thread). The first exception of
    ``fn`` is raised to the caller and the calls not started yet are cancelled.

    :param fn: the call, run in a worker thread.
    :param items: its arguments.
    :param workers: the pool's threads.
    :param in_flight: calls submitted and not yet collected at most (default ``workers``); a function is
        asked again before each submission (a limit that follows the measured latency).
    :param name: the threads' name prefix.
    :param read_anywhere: reading ``items`` does nothing but hand out the next one (a list, or ``enumerate``
        of one), so a worker that is free reads it itself, under a lock, instead of waiting for the caller's
        thread to hand it over: one thread wake-up less per item, which is what a process spends most on
        when ten locations' windows open at once (``benchmarks/burst.py``). Calls running are then bounded
        by ``in_flight``, and results not yet collected by as many again.
    """
    if workers < 1:
        raise ContactsConfigError(f"max_workers must be at least 1, got {workers}")
    if in_flight is None:
        in_flight = workers
    limit = in_flight if callable(in_flight) else (lambda: in_flight)
    if read_anywhere:
        return _pulled_map(fn, iter(items), workers, limit, name)
    return _handed_map(fn, items, workers, limit, name)


def _handed_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int, limit: Callable[[], int], name: str
) -> Iterator[tuple[T, R]]:
    """:func:`bounded_map` with the items read on the caller's thread and handed to the workers."""
    # Plain threads fed by one queue and answering on another: per item a put and a get each way. A
    # ThreadPoolExecutor costs a Future (a condition and its lock), two global locks and a semaphore per
    # item: an eighth of the client's CPU when ten locations' windows open at once (benchmarks/burst.py).
    work: queue.SimpleQueue[Any] = queue.SimpleQueue()
    finished: queue.SimpleQueue[tuple[T, bool, Any]] = queue.SimpleQueue()
    cancelled = threading.Event()
    threads: list[threading.Thread] = []

    def serve() -> None:
        while (item := work.get()) is not _STOP:
            if cancelled.is_set():
                continue  # not started: the caller has stopped
            try:
                finished.put((item, True, fn(item)))
            except BaseException as error:  # handed to the caller, who raises it
                finished.put((item, False, error))

    pending = 0

    def collect() -> tuple[T, R]:
        nonlocal pending
        item, ok, value = finished.get()
        pending -= 1
        if not ok:
            raise value
        return item, value

    try:
        for item in items:
            while not finished.empty():
                yield collect()
            while pending >= max(1, limit()):
                yield collect()
            work.put(item)
            pending += 1
            if len(threads) < min(pending, workers):  # a thread for each call in flight, up to workers
                thread = threading.Thread(target=serve, name=f"{name}_{len(threads)}", daemon=True)
                thread.start()
                threads.append(thread)
        while pending:
            yield collect()
    finally:
        cancelled.set()
        for _ in threads:
            work.put(_STOP)
        for thread in threads:  # the calls running finish before the caller goes on
            thread.join()


def _pulled_map(
    fn: Callable[[T], R], source: Iterator[T], workers: int, limit: Callable[[], int], name: str
) -> Iterator[tuple[T, R]]:
    """:func:`bounded_map` with the items read by the workers themselves (``read_anywhere``)."""
    state = threading.Condition(threading.Lock())
    finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
    threads: list[threading.Thread] = []
    running = uncollected = parked = 0
    stopped = False  # the items ran out, a call raised, or the caller stopped

    def room_for_one() -> int:
        """The limit of the moment when one more call may start under it, else 0 (under ``state``)."""
        room = max(1, limit())
        return room if running < room and uncollected < room else 0

    def take() -> Any:
        """The next item for a free worker, or _STOP; under ``state``."""
        nonlocal running, parked, stopped
        while not stopped:
            if room := room_for_one():
                try:
                    item = next(source)
                except StopIteration:
                    stopped = True
                    state.notify_all()
                    return _STOP
                running += 1
                if running == len(threads) and len(threads) < min(workers, room):
                    start()  # every thread is busy: one more, for each call in flight up to workers
                return item
            parked += 1
            state.wait()
            parked -= 1
        return _STOP

    def serve() -> None:
        nonlocal running, uncollected, stopped
        try:
            while True:
                with state:
                    item = take()
                if item is _STOP:
                    break
                outcome: tuple[T, bool, Any]
                try:
                    outcome = (item, True, fn(item))
                except BaseException as error:  # handed to the caller, who raises it; nothing more starts
                    outcome = (item, False, error)
                with state:
                    running -= 1
                    uncollected += 1
                    if not outcome[1]:
                        stopped = True
                        state.notify_all()
                finished.put(outcome)  # this worker takes the slot it frees itself: no one else to wake
        except BaseException as error:  # reading the items failed: the caller raises it
            with state:
                stopped = True
                state.notify_all()
            finished.put((None, False, error))
        finally:
            finished.put(_STOP)

    def start() -> None:
        """Start one more worker (under ``state``, so it cannot end before it is counted)."""
        thread = threading.Thread(target=serve, name=f"{name}_{len(threads)}", daemon=True)
        thread.start()
        threads.append(thread)

    try:
        with state:
            start()
        ended = 0
        while ended < len(threads):  # every thread started has said it stopped
            outcome = finished.get()
            if outcome is _STOP:
                ended += 1
                continue
            with state:
                uncollected -= 1
                if parked and room_for_one():  # a worker waits for results to be collected, or a bigger limit
                    state.notify()
            item, ok, value = outcome
            if not ok:
                raise value
            yield item, value
    finally:
        with state:
            stopped = True
            state.notify_all()
        for thread in list(threads):  # the calls running finish before the caller goes on
            thread.join()


class SharedCalls:
    """
    Calls of one key made while one is running wait for it and share its outcome instead of running again
    (a "single flight"). Nothing is kept afterwards: a call made later runs anew.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[Any, _Flight] = {}

    def call(self, key: Any, fn: Callable[[], R]) -> R:
        """
        Run ``fn``, or wait for the run of ``key`` already under way and take its result or error.

        :param key: what the call asks for.
        :param fn: the call.
        """
        with self._lock:
            flight = self._running.get(key)
            leads = flight is None
            if flight is None:
                flight = self._running[key] = _Flight()
            else:
                flight.waiting += 1
        if not leads:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.result  # type: ignore[no-any-return]
        try:
            flight.result = fn()
        except BaseException as error:
            flight.error = error
            raise
        finally:
            with self._lock:
                del self._running[key]
            flight.done.set()
        return flight.result  # type: ignore[no-any-return]

    def waiting(self, key: Any) -> int:
        """
        How many callers wait for the run of ``key`` under way (0 when none is).

        :param key: what the calls ask for.
        """
        with self._lock:
            flight = self._running.get(key)
            return flight.waiting if flight is not None else 0


class _Flight:
    """One shared call under way: its outcome once ``done`` is set."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.waiting = 0


__all__ = ["SharedCalls", "bounded_map"]

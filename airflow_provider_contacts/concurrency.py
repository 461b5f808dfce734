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
    """
    if workers < 1:
        raise ContactsConfigError(f"max_workers must be at least 1, got {workers}")
    if in_flight is None:
        in_flight = workers
    limit = in_flight if callable(in_flight) else (lambda: in_flight)
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

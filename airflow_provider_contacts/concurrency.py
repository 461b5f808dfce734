"""The one bounded thread pool: concurrent requests under the rate budget, items read lazily."""

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


__all__ = ["bounded_map"]

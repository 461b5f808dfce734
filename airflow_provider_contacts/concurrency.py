"""The one bounded thread pool: concurrent requests under the rate budget, items read lazily."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from airflow_provider_contacts.exceptions import ContactsConfigError

T = TypeVar("T")
R = TypeVar("R")


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
    pending: dict[Future[R], T] = {}
    # Each call puts its future here as it finishes: collecting one costs the same with 2 or 64 in flight
    # (waiting on every pending future, or asking each whether it is done, cost a lock per pending call
    # for every item: a tenth of the client's CPU per upsert at 64 in flight).
    finished: queue.SimpleQueue[Future[R]] = queue.SimpleQueue()

    def collect(future: Future[R]) -> tuple[T, R]:
        return pending.pop(future), future.result()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        try:
            for item in items:
                while not finished.empty():
                    yield collect(finished.get_nowait())
                while len(pending) >= max(1, limit()):
                    yield collect(finished.get())
                future = pool.submit(fn, item)
                pending[future] = item
                future.add_done_callback(finished.put)
            while pending:
                yield collect(finished.get())
        finally:
            for future in pending:
                future.cancel()


__all__ = ["bounded_map"]

"""
The window of changes a DAG run owns, for scheduled runs and for runs triggered by hand: one rule, here.

In Airflow 3 a run triggered from the UI, the CLI or the REST API has no logical date and no data
interval: ``data_interval_start``/``end`` are absent from its context, and so is
``prev_data_interval_end_success``. Code that works on "what changed since last time" must fall back to
something else; :func:`run_window` says what, for the sensors, the transfers and the example DAGs alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.coercion import to_datetime
from airflow_provider_contacts.exceptions import ContactsConfigError

if TYPE_CHECKING:
    from airflow.sdk import Context

#: How far back a run with no interval, no ``since`` and no earlier successful run looks.
DEFAULT_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True, eq=False)
class Window:
    """
    The changes a run owns: from ``start`` (inclusive) to ``end`` (exclusive); ``end`` None for no end yet.

    Unpacks as ``start, end = window``.

    :param start: inclusive lower bound (UTC).
    :param end: exclusive upper bound (UTC), or None (a sensor waiting for changes to come).
    """

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end <= self.start:
            raise ContactsConfigError(f"empty window: {self.start.isoformat()} .. {self.end.isoformat()}")

    def __iter__(self) -> Iterator[datetime | None]:
        return iter((self.start, self.end))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Window | tuple):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def as_dict(self) -> dict[str, str | None]:
        """The window as ISO strings."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat() if self.end else None}


def context_value(context: Context | dict[str, Any], key: str) -> Any:
    """
    A context value, unwrapped from Airflow's lazy proxies (a proxy of None is not None).

    :param context: the task's context.
    :param key: the key; a missing key gives None.
    """
    value = context.get(key)  # type: ignore[misc]
    return getattr(value, "__wrapped__", value) if value is not None else None


def run_window(
    context: Context | dict[str, Any],
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    lookback: timedelta = timedelta(0),
    previous_end: datetime | Callable[[], datetime | None] | None = None,
    default_lookback: timedelta | None = DEFAULT_LOOKBACK,
    open_end: bool = False,
) -> Window:
    """
    The window ``[start, end)`` of changes a run owns; every task and every retry of the run gets the same.

    ``end`` is the first of these that applies:

    1. ``until``, when given;
    2. the data interval's end, when the run has a non-empty interval;
    3. for a run without one (a manual run, or Airflow 3's zero-length intervals): the moment the run was
       made for, its ``run_after``, when catching up on changes; with ``open_end`` (a sensor waiting for
       changes to come) the interval's end when the run has one, else no end, and no end at all when the
       caller gave ``since`` but no ``until``.

    ``start`` is the first of these that applies:

    1. ``since``, when given;
    2. the data interval's start, when the run has a non-empty interval;
    3. where the previous successful run stopped, when that is before ``end``: ``previous_end`` (what the
       caller recorded, e.g. its audit row or its table's newest change; a function is called only when
       this rule is reached) or else ``prev_data_interval_end_success`` (for ``open_end``, only in a run
       with a data interval);
    4. when nothing says: ``end - default_lookback``; with ``default_lookback`` None the run must give
       ``since`` (an error says so); with ``open_end`` the run's date (``logical_date``, else
       ``run_after``) and no end.

    ``lookback`` then moves ``start`` earlier (the search index shows a change a few seconds late).

    :param context: the task's context.
    :param since: the start asked for: a datetime, ISO-8601 text or epoch milliseconds; None or "" for none.
    :param until: the end asked for, in the same forms.
    :param lookback: how much earlier than its rule the window starts.
    :param previous_end: where the previous successful run stopped, or a function that finds it.
    :param default_lookback: how far back a run looks when nothing else says; None: it must give ``since``.
    :param open_end: the window of a sensor, which waits for changes from the run's date on.
    """
    interval_start = to_datetime(context_value(context, "data_interval_start"), "data_interval_start")
    interval_end = to_datetime(context_value(context, "data_interval_end"), "data_interval_end")
    has_interval = interval_start is not None and interval_end is not None and interval_start < interval_end
    asked_since = to_datetime(since, "since")
    asked_until = to_datetime(until, "until")
    run_after = to_datetime(getattr(context.get("dag_run"), "run_after", None), "run_after")

    end: datetime | None
    if asked_until is not None:
        end = asked_until
    elif open_end and asked_since is not None:
        end = None
    elif has_interval or open_end:
        end = interval_end
    else:
        end = run_after or interval_end or datetime.now(timezone.utc)

    start: datetime | None = asked_since
    if start is not None:
        if end is not None and start >= end:
            raise ContactsConfigError(
                f"since must be before the window's end {end.isoformat()}, got {since!r}"
            )
    elif has_interval:
        start = interval_start
    elif end is not None and (interval_end is not None or not open_end):
        for candidate in (previous_end, context_value(context, "prev_data_interval_end_success")):
            earlier = to_datetime(candidate() if callable(candidate) else candidate, "previous run's end")
            if earlier is not None and earlier < end:
                start = earlier
                break
    if start is None:
        if open_end:
            anchor = interval_end or to_datetime(context_value(context, "logical_date")) or run_after
            if anchor is None:
                raise ContactsConfigError("give `since`; this run has no date to start from")
            return Window(anchor - lookback, asked_until)
        if default_lookback is None:
            raise ContactsConfigError(
                "the run has no data interval (a manual run) and nothing says where the last one stopped: "
                "pass since (ISO-8601) to say where the window starts"
            )
        assert end is not None
        start = end - default_lookback
    return Window(start - lookback, end)


__all__ = ["DEFAULT_LOOKBACK", "Window", "context_value", "run_window"]

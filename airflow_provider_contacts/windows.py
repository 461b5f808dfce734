"""
The window of changes a DAG run owns, for scheduled runs and for runs triggered by hand.

In Airflow 3 a run triggered from the UI, the CLI or the REST API has no logical date and no data
interval: ``data_interval_start``/``end`` are absent from its context, and so is
``prev_data_interval_end_success``. Code that works on "what changed since last time" must fall back to
something else; these helpers say what, in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.coercion import to_datetime
from airflow_provider_contacts.exceptions import ContactsConfigError

if TYPE_CHECKING:
    from airflow.sdk import Context

#: How far back a run with no interval, no ``since`` and no earlier successful run looks.
DEFAULT_LOOKBACK = timedelta(days=1)


def context_value(context: Context | dict[str, Any], key: str) -> Any:
    """
    A context value, unwrapped from Airflow's lazy proxies (a proxy of None is not None).

    :param context: the task's context.
    :param key: the key; a missing key gives None.
    """
    value = context.get(key)  # type: ignore[misc]
    return getattr(value, "__wrapped__", value) if value is not None else None


def _interval(context: Context | dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    return context_value(context, "data_interval_start"), context_value(context, "data_interval_end")


def run_window(context: Context) -> tuple[datetime | None, datetime | None]:
    """
    The window of changes a run owns by default: ``[start, end)``, ``end`` None for no upper bound.

    - A run with a data interval (``start < end``): that interval. Consecutive runs share their
      boundaries, so each change belongs to exactly one run.
    - A run with a zero-length interval (Airflow 3's default cron and timedelta timetables) after a
      successful run: ``[prev_data_interval_end_success, data_interval_end)``; the runs chain.
    - Otherwise (a manual run, a first run, no interval at all): from the run's logical date (or
      ``run_after``) on, with no upper bound.

    :param context: the task's context.
    """
    start, end = _interval(context)
    if start is not None and end is not None and start < end:
        return start, end
    previous = context_value(context, "prev_data_interval_end_success")
    if end is not None and previous is not None and previous < end:
        return previous, end
    dag_run = context.get("dag_run")
    anchor = end or context_value(context, "logical_date") or getattr(dag_run, "run_after", None)
    return anchor, None


def catch_up_window(
    context: Context | dict[str, Any],
    *,
    since: datetime | str | None = None,
    previous_end: datetime | Callable[[], datetime | None] | None = None,
    default_lookback: timedelta = DEFAULT_LOOKBACK,
) -> tuple[datetime, datetime]:
    """
    The closed window ``[start, end)`` a run that catches up on changes works on, scheduled or manual.

    ``end`` is the data interval's end, or for a run with none (a manual run) its ``run_after``: fixed
    for the run, so every task and every retry of the run sees the same window. ``start`` is the first
    of these that applies:

    1. ``since`` (a catch-up param), when given;
    2. the data interval's start, when the run has a non-empty interval;
    3. the end of the previous successful run's window: ``prev_data_interval_end_success`` from the
       context, else ``previous_end`` (Airflow has no "previous run" for a manual run, so the caller
       passes what it recorded, e.g. the last audit row's end);
    4. ``end - default_lookback`` (one day unless told otherwise).

    :param context: the task's context.
    :param since: the start asked for, a datetime or ISO-8601 text; None or "" for none.
    :param previous_end: where the previous successful run stopped, when the caller knows it; or a function
        that finds it (e.g. reads an audit table), called only when rule 3 is reached.
    :param default_lookback: how far back to look when nothing else says.
    """
    start, end = _interval(context)
    has_interval = start is not None and end is not None and start < end
    if not has_interval or end is None:
        dag_run = context.get("dag_run")
        end = getattr(dag_run, "run_after", None) or end or datetime.now(timezone.utc)
    end = to_datetime(end, "window end")
    assert end is not None
    asked = to_datetime(since, "since")
    if asked is not None:
        if asked >= end:
            raise ContactsConfigError(
                f"since must be before the run's window end {end.isoformat()}, got {since!r}"
            )
        return asked, end
    if has_interval:
        return to_datetime(start, "data_interval_start"), end  # type: ignore[return-value]
    for candidate in (context_value(context, "prev_data_interval_end_success"), previous_end):
        if callable(candidate):
            candidate = candidate()
        earlier = to_datetime(candidate, "previous run's end")
        if earlier is not None and earlier < end:
            return earlier, end
    return end - default_lookback, end


__all__ = ["DEFAULT_LOOKBACK", "catch_up_window", "context_value", "run_window"]

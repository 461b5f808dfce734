"""
The run's window, one rule for sensors, transfers and the example DAGs: scheduled runs keep their interval;
manual runs (no interval in Airflow 3) catch up from where the last one stopped, or a sensor waits from the
run's date on.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.windows import DEFAULT_LOOKBACK, Window, run_window

UTC = timezone.utc
TRIGGERED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
START, END = TRIGGERED - timedelta(minutes=15), TRIGGERED
MANUAL = {"dag_run": SimpleNamespace(run_after=TRIGGERED), "run_id": "manual__x"}  # no data_interval_* keys
SCHEDULED = {**MANUAL, "data_interval_start": START, "data_interval_end": END}


def never() -> datetime | None:
    raise AssertionError("the previous end is read only when no other rule gives the start")


# ------------------------------------------------------------------------------------- catching up


def test_a_scheduled_run_works_on_its_data_interval() -> None:
    assert run_window(SCHEDULED, previous_end=never) == (START, END)


def test_a_manual_run_without_conf_starts_where_the_last_successful_run_stopped() -> None:
    previous = TRIGGERED - timedelta(minutes=40)
    assert run_window(MANUAL, previous_end=previous) == (previous, TRIGGERED)
    assert run_window(MANUAL, previous_end=lambda: previous) == (previous, TRIGGERED)


def test_the_callers_record_comes_before_airflows_previous_success() -> None:
    recorded, airflow_says = TRIGGERED - timedelta(minutes=5), TRIGGERED - timedelta(hours=2)
    context = {**MANUAL, "prev_data_interval_end_success": airflow_says}
    assert run_window(context, previous_end=recorded) == (recorded, TRIGGERED)
    assert run_window(context, previous_end=lambda: None) == (airflow_says, TRIGGERED)


def test_a_previous_end_at_or_after_the_end_is_ignored() -> None:
    assert run_window(MANUAL, previous_end=TRIGGERED) == (TRIGGERED - DEFAULT_LOOKBACK, TRIGGERED)


def test_a_manual_run_with_nothing_before_it_looks_back_the_default() -> None:
    assert run_window(MANUAL) == (TRIGGERED - DEFAULT_LOOKBACK, TRIGGERED)


def test_without_a_default_lookback_a_manual_run_must_say_since() -> None:
    with pytest.raises(ContactsConfigError, match="pass since"):
        run_window(MANUAL, default_lookback=None)


def test_since_wins_and_is_read_as_utc() -> None:
    assert run_window(MANUAL, since="2026-03-01T09:00:00", previous_end=never) == (
        datetime(2026, 3, 1, 9, tzinfo=UTC),
        TRIGGERED,
    )


def test_since_with_a_data_interval_keeps_the_intervals_end() -> None:
    """A backfill of a scheduled run from an earlier start: since replaces the start only."""
    since = START - timedelta(hours=3)
    assert run_window(SCHEDULED, since=since.isoformat(), previous_end=never) == (since, END)
    until = END + timedelta(minutes=1)
    assert run_window(SCHEDULED, since=since, until=until) == (since, until)


def test_lookback_moves_every_start_earlier_but_not_the_end() -> None:
    five = timedelta(minutes=5)
    assert run_window(SCHEDULED, lookback=five) == (START - five, END)
    assert run_window(MANUAL, since=START, lookback=five) == (START - five, END)
    assert run_window(MANUAL, previous_end=START, lookback=five) == (START - five, END)


@pytest.mark.parametrize("since", ["yesterday", "2026-03-02T00:00:00Z"])
def test_a_bad_since_is_an_error_naming_it(since: str) -> None:
    with pytest.raises(ContactsConfigError, match="since must be"):
        run_window(MANUAL, since=since)


def test_a_bad_until_is_an_error_naming_it() -> None:
    with pytest.raises(ContactsConfigError, match="until must be"):
        run_window(SCHEDULED, until="tomorrow")


def test_the_window_unpacks_and_reports_itself() -> None:
    window = run_window(SCHEDULED)
    start, end = window
    assert (start, end) == (window.start, window.end) == (START, END)
    assert window.as_dict() == {"start": START.isoformat(), "end": END.isoformat()}
    with pytest.raises(ContactsConfigError, match="empty window"):
        Window(END, START)


# ------------------------------------------------------------------------------------ sensors (open end)


def test_a_sensors_window_is_the_interval_or_chains_or_is_open_ended() -> None:
    assert run_window({"data_interval_start": START, "data_interval_end": END}, open_end=True) == (START, END)
    # A zero-length interval (trigger timetables) chains from the previous successful run ...
    zero = {"data_interval_start": END, "data_interval_end": END}
    assert run_window({**zero, "prev_data_interval_end_success": START}, open_end=True) == (START, END)
    # ... and with none, it is open-ended from the run's date, like a run without any interval.
    assert run_window(zero, open_end=True) == (END, None)
    manual = {
        "data_interval_start": None,
        "data_interval_end": None,
        "dag_run": SimpleNamespace(run_after=START),
    }
    assert run_window(manual, open_end=True) == (START, None)
    # A manual run waits for what comes, whatever ran before it.
    assert run_window(
        {**manual, "prev_data_interval_end_success": START - DEFAULT_LOOKBACK}, open_end=True
    ) == (
        START,
        None,
    )


def test_a_sensor_given_since_only_waits_with_no_end() -> None:
    since = START - timedelta(hours=1)
    assert run_window(SCHEDULED, since=since, open_end=True) == (since, None)
    assert run_window(SCHEDULED, until=END + timedelta(hours=1), open_end=True) == (
        START,
        END + timedelta(hours=1),
    )


def test_a_sensor_in_a_run_without_any_date_must_say_since() -> None:
    with pytest.raises(ContactsConfigError, match="give `since`"):
        run_window({}, open_end=True)

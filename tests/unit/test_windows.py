"""The run's window: scheduled runs keep their interval; manual runs (no interval in Airflow 3) get a real one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.windows import DEFAULT_LOOKBACK, catch_up_window

UTC = timezone.utc
TRIGGERED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MANUAL = {"dag_run": SimpleNamespace(run_after=TRIGGERED), "run_id": "manual__x"}  # no data_interval_* keys


def test_a_scheduled_run_syncs_its_data_interval() -> None:
    start, end = TRIGGERED - timedelta(minutes=15), TRIGGERED
    context = {**MANUAL, "data_interval_start": start, "data_interval_end": end}
    assert catch_up_window(context) == (start, end)


def test_a_manual_run_without_conf_starts_where_the_last_successful_run_stopped() -> None:
    previous = TRIGGERED - timedelta(minutes=40)
    assert catch_up_window(MANUAL, previous_end=previous) == (previous, TRIGGERED)


def test_a_manual_run_with_nothing_before_it_looks_back_the_default() -> None:
    assert catch_up_window(MANUAL) == (TRIGGERED - DEFAULT_LOOKBACK, TRIGGERED)


def test_since_wins_and_is_read_as_utc() -> None:
    assert catch_up_window(
        MANUAL, since="2026-03-01T09:00:00", previous_end=TRIGGERED - timedelta(hours=1)
    ) == (
        datetime(2026, 3, 1, 9, tzinfo=UTC),
        TRIGGERED,
    )


@pytest.mark.parametrize("since", ["yesterday", "2026-03-02T00:00:00Z"])
def test_a_bad_since_is_an_error_naming_it(since: str) -> None:
    with pytest.raises(ContactsConfigError, match="since must be"):
        catch_up_window(MANUAL, since=since)

"""The one parameter reader: every accepted form, and errors that name the parameter and its owner."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_contacts.coercion import read_time, to_bool, to_datetime, to_float, to_int, to_list
from airflow_provider_contacts.exceptions import ContactsConfigError

UTC = timezone.utc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("true", True),
        (" False ", False),
        ("YES", True),
        ("no", False),
        ("on", True),
        ("off", False),
        ("1", True),
        ("0", False),
        ("y", True),
        ("N", False),
    ],
)
def test_to_bool_reads_the_spellings_of_a_flag(value: Any, expected: bool) -> None:
    assert to_bool(value, "flag") is expected


@pytest.mark.parametrize("value", ["Ture", "", "maybe", 2, -1, 0.5, None, [], "truee"])
def test_to_bool_refuses_anything_else_naming_parameter_and_owner(value: Any) -> None:
    with pytest.raises(
        ContactsConfigError,
        match=rf"^task 'push': dry_run must be true or false, got {re.escape(repr(value))}$",
    ):
        to_bool(value, "dry_run", owner="task 'push'")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01T12:00:00+02:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01 10:00:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        (datetime(2026, 3, 1, 10), datetime(2026, 3, 1, 10, tzinfo=UTC)),
        (datetime(2026, 3, 1, 11, tzinfo=timezone(timedelta(hours=1))), datetime(2026, 3, 1, 10, tzinfo=UTC)),
        (1772359200000, datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("1772359200000", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_to_datetime_reads_iso_text_datetimes_and_epoch_millis_as_utc(value: Any, expected: Any) -> None:
    assert to_datetime(value, "since") == expected


@pytest.mark.parametrize("value", ["soon", "2026-13-01", True, [2026]])
def test_to_datetime_refuses_anything_else_naming_the_parameter(value: Any) -> None:
    with pytest.raises(
        ContactsConfigError, match=rf"since must be a point in time .*got {re.escape(repr(value))}"
    ):
        to_datetime(value, "since")


def test_read_time_gives_none_for_unreadable_data_instead_of_stopping_the_record() -> None:
    assert read_time("not a date") is None
    assert read_time("2026-03-01T10:00:00.000Z") == datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_numbers() -> None:
    assert to_float("0.25", "ratio") == 0.25
    assert to_int("3", "count") == 3 and to_int(3.0, "count") == 3
    for bad in ("x", True, None, float("nan")):
        with pytest.raises(ContactsConfigError, match="ratio must be a number"):
            to_float(bad, "ratio")
    with pytest.raises(ContactsConfigError, match="count must be a whole number of at least 1, got 0"):
        to_int(0, "count", minimum=1)
    with pytest.raises(ContactsConfigError, match=r"count must be a whole number, got 1\.5"):
        to_int(1.5, "count")


def test_lists() -> None:
    assert to_list("a, b,,c", "tags") == ["a", "b", "c"]
    assert to_list(["a", " b "], "tags") == ["a", "b"]
    assert to_list(None, "tags") == []
    with pytest.raises(ContactsConfigError, match="tags must be a list of strings"):
        to_list(["a", 1], "tags")
    with pytest.raises(ContactsConfigError, match="tags must be a list or a comma separated string"):
        to_list(5, "tags")

"""The one parameter reader: every accepted form, and errors that name the parameter and its owner."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_contacts.coercion import (
    header_number,
    read_number,
    read_time,
    retry_after,
    to_bool,
    to_datetime,
    to_float,
    to_int,
    to_list,
)
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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a, b,a", ["a", "b"]),
        ('["a", "b"]', ["a", "b"]),
        ("['a', 'b']", ["a", "b"]),
        (["a", "", "b"], ["a", "b"]),
        (None, []),
    ],
)
def test_id_lists_come_as_lists_or_rendered_text(value, expected):
    assert to_list(value, "contact_ids") == expected


@pytest.mark.parametrize("value", ["[1, 2]", "[oops", '[{"a": 1}]', "['a', ['b']]", 5])
def test_a_list_that_is_not_one_of_strings_is_an_error_naming_it(value: Any) -> None:
    with pytest.raises(ContactsConfigError, match="contact_ids must be a list"):
        to_list(value, "contact_ids")


@pytest.mark.parametrize(
    ("text", "microsecond"),
    [
        ("2026-01-02T03:04:05.1Z", 100000),
        ("2026-01-02T03:04:05.12Z", 120000),
        ("2026-01-02T03:04:05.123Z", 123000),
        ("2026-01-02T03:04:05.1234Z", 123400),
        ("2026-01-02T03:04:05.12345Z", 123450),
        ("2026-01-02T03:04:05.123456Z", 123456),
        ("2026-01-02T03:04:05.1234567Z", 123456),
        ("2026-01-02T03:04:05.123456789Z", 123456),
        ("2026-01-02T03:04:05.5+00:00", 500000),
    ],
)
def test_iso_fractions_of_any_digit_count_and_z(text: str, microsecond: int) -> None:
    """Python 3.10's fromisoformat reads only 3 or 6 digits; the API and Airflow write others."""
    parsed = to_datetime(text, "since")
    assert parsed == datetime(2026, 1, 2, 3, 4, 5, microsecond, tzinfo=UTC)
    assert parsed.tzinfo is UTC


def test_offsets_become_utc_and_a_date_alone_is_its_midnight() -> None:
    assert to_datetime("2026-01-02T03:04:05.12-02:30", "since") == datetime(
        2026, 1, 2, 5, 34, 5, 120000, tzinfo=UTC
    )
    assert to_datetime("2026-01-02 03:04:05", "since") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert to_datetime("2026-01-02", "since") == datetime(2026, 1, 2, tzinfo=UTC)
    assert to_datetime("2026-12-31T23:59:59.9999999Z", "since") == datetime(
        2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC
    )


@pytest.mark.parametrize("text", ["P1D", "now", "03:04:05", "2026-13-01T00:00:00Z", "2026-01-02T25:00:00Z"])
def test_what_is_not_a_point_in_time_is_an_error_naming_it(text: str) -> None:
    with pytest.raises(ContactsConfigError, match="since must be a point in time"):
        to_datetime(text, "since")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 2.0),
        ({"Retry-After": "nan"}, 2.0),
        ({"Retry-After": "inf"}, 2.0),
        ({}, 2.0),
    ],
)
def test_retry_after_is_read_in_one_place(headers: dict[str, str], expected: float) -> None:
    assert retry_after(headers, 2.0) == expected


def test_numbers_refuse_infinity_and_header_numbers_give_none() -> None:
    with pytest.raises(ContactsConfigError, match="max_wait must be a number"):
        to_float("inf", "max_wait")
    assert header_number({"X-RateLimit-Remaining": "12"}, "X-RateLimit-Remaining") == 12.0
    assert header_number({"X-RateLimit-Remaining": "many"}, "X-RateLimit-Remaining") is None
    assert read_number(True) is None and read_number("1e3") == 1000.0

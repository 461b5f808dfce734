"""
The one way this package reads a parameter: booleans, points in time, numbers and lists.

Parameters arrive as Python values from DAG code, as text from Jinja templates (``"{{ params.dry_run }}"``
renders ``"False"``, which Python's ``bool()`` reads as true) and as JSON from run confs and triggers. Each
reader here accepts the forms that mean one thing without doubt and refuses everything else with a
:class:`~airflow_provider_contacts.exceptions.ContactsConfigError` that names the parameter, and its owner
(a task, a connection, a record) when the caller gives one. Nothing is guessed: ``"Ture"`` is an error,
never ``False``.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from pendulum.parsing import parse_iso8601

from airflow_provider_contacts.exceptions import ContactsConfigError

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off"})


def _fail(name: str, owner: str | None, expected: str, value: Any) -> ContactsConfigError:
    where = f"{owner}: " if owner else ""
    return ContactsConfigError(f"{where}{name} must be {expected}, got {value!r}")


def to_bool(value: Any, name: str, *, owner: str | None = None) -> bool:
    """
    Read a flag: a bool, 0 or 1, or one of true/false, yes/no, y/n, on/off, 1/0 in any case.

    :param value: the value.
    :param name: the parameter's name, for the error.
    :param owner: what the parameter belongs to (``task 'push'``), for the error.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise _fail(name, owner, "true or false", value)


def to_datetime(
    value: datetime | str | float | None, name: str = "value", *, owner: str | None = None
) -> datetime | None:
    """
    Read a point in time: a datetime, an ISO-8601 string or epoch milliseconds (a number or digits).

    :param value: the value; a naive datetime or string is taken as UTC; ``None`` and ``""`` give None.
    :param name: the parameter's name, for the error.
    :param owner: what the parameter belongs to, for the error.
    :return: an aware UTC datetime, or None.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return parse_time(value)
    except (ValueError, TypeError, OverflowError, OSError):
        raise _fail(name, owner, "a point in time (ISO-8601 or epoch milliseconds)", value) from None


def parse_time(value: datetime | date | str | float) -> datetime:
    """
    The one reader of points in time: a datetime, an ISO-8601 string or epoch milliseconds.

    ISO-8601 text goes through pendulum's parser, which takes what the API and Airflow write: ``Z`` or an
    offset, a fraction of any number of digits (the API writes 3, Airflow 6; Python 3.10's ``fromisoformat``
    refuses all but 3 and 6), a space instead of ``T`` (the appointments' ``2021-07-16 11:00:00``).

    :param value: the value; a naive datetime or string is taken as UTC.
    :return: an aware datetime in UTC (the standard library's ``timezone.utc``).
    :raises ValueError: (or TypeError, OverflowError) when it is none of these.
    """
    if isinstance(value, bool):
        raise TypeError("a bool is not a point in time")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        parsed = parse_iso8601(text)
        if isinstance(parsed, datetime):
            value = parsed
        elif isinstance(parsed, date):  # a date alone: its midnight
            value = datetime(parsed.year, parsed.month, parsed.day)
        else:  # a duration or a time of day
            raise ValueError(f"not a point in time: {text!r}")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        offset = value.utcoffset()
        naive = value.replace(tzinfo=None) - (offset or timedelta(0))
        return naive.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    raise TypeError(f"not a point in time: {type(value).__name__}")


def read_time(value: Any) -> datetime | None:
    """
    Read a point in time that comes from data (an API answer, a database row), not from a parameter.

    The same forms as :func:`to_datetime`; a value it cannot read gives None instead of an error, because
    one odd field of a record must not stop the work on it.

    :param value: the value.
    """
    try:
        return to_datetime(value)
    except ContactsConfigError:
        return None


def to_float(
    value: Any,
    name: str,
    *,
    owner: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    """
    Read a number: an int, a float, or text that holds one.

    :param value: the value.
    :param name: the parameter's name, for the error.
    :param owner: what the parameter belongs to, for the error.
    :param minimum: the smallest value allowed.
    :param maximum: the largest value allowed (so infinity is refused too).
    """
    expected = "a number" if minimum is None else f"a number of at least {minimum:g}"
    if maximum is not None:
        expected += f" and at most {maximum:g}" if minimum is not None else f" of at most {maximum:g}"
    if isinstance(value, bool):
        raise _fail(name, owner, expected, value)
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise _fail(name, owner, expected, value) from None
    if not math.isfinite(number) or (minimum is not None and number < minimum):
        raise _fail(name, owner, expected, value)
    if maximum is not None and number > maximum:
        raise _fail(name, owner, expected, value)
    return number


def to_int(value: Any, name: str, *, owner: str | None = None, minimum: int | None = None) -> int:
    """
    Read a whole number: an int, an integral float, or text that holds one.

    :param value: the value.
    :param name: the parameter's name, for the error.
    :param owner: what the parameter belongs to, for the error.
    :param minimum: the smallest value allowed.
    """
    expected = "a whole number" if minimum is None else f"a whole number of at least {minimum}"
    try:
        number = to_float(value, name, owner=owner)
    except ContactsConfigError:
        raise _fail(name, owner, expected, value) from None
    if not number.is_integer() or (minimum is not None and number < minimum):
        raise _fail(name, owner, expected, value)
    return int(number)


def to_list(value: Any, name: str, *, owner: str | None = None) -> list[str]:
    """
    Read a list of names or ids: a list or tuple of strings, a JSON list, or one string separated by commas.

    A template renders a list as text (``"['c1', 'c2']"``), so a string that starts with ``[`` is read as a
    list literal (JSON, or Python's repr of a list of strings).

    :param value: the value; None gives an empty list.
    :param name: the parameter's name, for the error.
    :param owner: what the parameter belongs to, for the error.
    :return: the items, stripped, in order, without blanks or repeats.
    """
    if value is None:
        return []
    items: Iterable[Any]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                try:
                    items = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise _fail(name, owner, "a list (JSON) or a comma separated string", value) from None
            if not isinstance(items, list):
                raise _fail(name, owner, "a list (JSON) or a comma separated string", value)
        else:
            items = text.split(",")
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    else:
        raise _fail(name, owner, "a list or a comma separated string", value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise _fail(name, owner, "a list of strings", value)
        if item.strip() and item.strip() not in out:
            out.append(item.strip())
    return out


def read_number(value: Any) -> float | None:
    """
    Read a number that comes from data (a header, an API answer), not from a parameter.

    :param value: an int, a float or text that holds one.
    :return: the number, or None when there is none (missing, not a number, NaN or infinite).
    """
    try:
        return to_float(value, "value")
    except ContactsConfigError:
        return None


def header_number(headers: Mapping[str, str], name: str) -> float | None:
    """
    A response header's number (``X-RateLimit-Remaining``, ``Retry-After``), None when missing or unreadable.

    :param headers: the response's headers (case-insensitive, as ``requests`` and ``httpx`` give them).
    :param name: the header.
    """
    return read_number(headers.get(name))


def retry_after(headers: Mapping[str, str], default: float | None) -> float | None:
    """
    How long an answer asks the client to wait: its ``Retry-After`` in seconds, else ``default``.

    HighLevel sends seconds (``docs/api-behaviour.md``); an HTTP date or an unreadable value gives ``default``.

    :param headers: the response's headers.
    :param default: the wait when the answer says nothing (None: let the caller's backoff decide).
    """
    seconds = header_number(headers, "Retry-After")
    return default if seconds is None else max(0.0, seconds)


__all__ = [
    "header_number",
    "parse_time",
    "read_number",
    "read_time",
    "retry_after",
    "to_bool",
    "to_datetime",
    "to_float",
    "to_int",
    "to_list",
]

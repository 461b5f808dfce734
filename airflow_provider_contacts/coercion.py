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

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

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
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _fail(name, owner, "a point in time (ISO-8601 or epoch milliseconds)", value) from None
    else:
        raise _fail(name, owner, "a point in time (ISO-8601 or epoch milliseconds)", value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


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
    if number != number or (minimum is not None and number < minimum):  # NaN, or too small
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
    Read a list of names: a list or tuple of strings, or one string separated by commas.

    :param value: the value; None gives an empty list.
    :param name: the parameter's name, for the error.
    :param owner: what the parameter belongs to, for the error.
    """
    if value is None:
        return []
    items: Iterable[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    else:
        raise _fail(name, owner, "a list or a comma separated string", value)
    out = []
    for item in items:
        if not isinstance(item, str):
            raise _fail(name, owner, "a list of strings", value)
        if item.strip():
            out.append(item.strip())
    return out


__all__ = ["read_time", "to_bool", "to_datetime", "to_float", "to_int", "to_list"]

"""Times and ids as the API writes them: ISO-8601 UTC with milliseconds, epoch milliseconds, 20-char ids."""

from __future__ import annotations

import random
import string
import time
from datetime import datetime, timezone

_ID_ALPHABET = string.ascii_letters + string.digits


def now_ms() -> int:
    """Return the current time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def iso(ms: int) -> str:
    """
    Format epoch milliseconds like the API: ``2021-07-02T05:18:26.704Z``.

    :param ms: epoch milliseconds.
    """
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_time(value: object) -> int:
    """
    Read a date the API accepts: epoch milliseconds (number or digit string) or an ISO-8601 string.

    :param value: the value; a naive ISO string is taken as UTC.
    :raises ValueError: when it is neither.
    """
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return int(dt.timestamp() * 1000)
    raise ValueError(value)


class IdMaker:
    """
    Makes 20-character alphanumeric ids like the API's (``ocQHyuzHvysMo5N5VsXc``), reproducibly.

    :param seed: seed of the id sequence.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def __call__(self) -> str:
        """Return the next id."""
        return "".join(self._rng.choices(_ID_ALPHABET, k=20))

"""
The rate budget of a connection's locations: requests in the current window and today.

With a ``rate_limit_backend`` the figures come from Redis, the keys every process of the deployment spends
(``transport.shared``): the window is the sorted set's members still inside the window on Redis's clock, the
day is the UTC day's counter. Without one, each process keeps its own window, and only this process's is
known here: the figures say so (``source: "this process"``).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from airflow_provider_contacts.transport.registry import transports_of
from airflow_provider_contacts.transport.settings import ContactsSettings
from airflow_provider_contacts.transport.shared import DEFAULT_DAILY_LIMIT, SOCKET_TIMEOUT, budget_keys
from airflow_provider_contacts.urls import redacted_url

#: At most this many locations are listed per connection (an agency with many).
MAX_LOCATIONS = 200


def budget_state(settings: ContactsSettings) -> dict[str, Any]:
    """
    The connection's budget per location, from Redis when the connection names a backend, else this process.

    :param settings: the connection's settings.
    """
    limits = {"window_limit": settings.requests_per_window, "window_s": settings.rate_limit_window}
    if settings.rate_limit_backend:
        label = f"shared ({redacted_url(settings.rate_limit_backend)})"
        try:
            locations = _from_redis(settings)
        except Exception as error:  # Redis down: say so, never fail the page
            return {
                **limits,
                "source": label,
                "error": f"{type(error).__name__}: {error}"[:200],
                "locations": [],
            }
        return {**limits, "source": label, "locations": locations}
    return {**limits, "source": "this process", "locations": _from_process(settings)}


def _prefix(settings: ContactsSettings) -> tuple[str, str]:
    window, daily = budget_keys(settings.rate_limit_key_prefix, settings.budget_key.rsplit(":", 1)[0])
    return f"{window}:", f"{daily}:"


def _from_redis(settings: ContactsSettings) -> list[dict[str, Any]]:
    import redis

    client = redis.Redis.from_url(
        settings.rate_limit_backend or "",
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
    )
    try:
        window_prefix, daily_prefix = _prefix(settings)
        seconds, micros = client.time()
        now_ms = seconds * 1000 + micros // 1000
        window_ms = round(settings.rate_limit_window * 1000)
        today = datetime.now(timezone.utc).date().isoformat()
        locations: set[str] = set()
        for pattern in (f"{_glob(window_prefix)}*", f"{_glob(daily_prefix)}*:{today}"):
            for key in client.scan_iter(match=pattern, count=500):
                name = key.decode()
                rest = (
                    name[len(window_prefix) :]
                    if name.startswith(window_prefix)
                    else name[len(daily_prefix) :]
                )
                locations.add(rest.rsplit(":", 1)[0] if name.startswith(daily_prefix) else rest)
                if len(locations) >= MAX_LOCATIONS:
                    break
        if settings.location_id:
            locations.add(settings.location_id)
        rows = []
        for location in sorted(locations):
            # The take script's rule: a member counts while its score is within a window of now.
            in_window = client.zcount(f"{window_prefix}{location}", f"({now_ms - window_ms}", "+inf")
            day = client.get(f"{daily_prefix}{location}:{today}")
            rows.append(_row(location, int(in_window), int(day or 0), settings))
        return rows
    finally:
        client.close()


def _glob(literal: str) -> str:
    """A Redis glob that matches ``literal`` exactly (the key prefix is the connection's to choose)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", literal)


def _from_process(settings: ContactsSettings) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for transport in transports_of(settings.conn_id):
        location = transport.settings.location_id or "-"
        in_window, today = transport.limiter.usage()
        rows[location] = _row(location, in_window, today, settings)
    if settings.location_id and settings.location_id not in rows:
        rows[settings.location_id] = _row(settings.location_id, 0, 0, settings)
    return [rows[key] for key in sorted(rows)]


def _row(location: str, in_window: int, today: int, settings: ContactsSettings) -> dict[str, Any]:
    return {
        "location_id": location,
        "in_window": in_window,
        "window_limit": settings.requests_per_window,
        "today": today,
        "daily_limit": DEFAULT_DAILY_LIMIT,
    }

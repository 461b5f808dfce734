"""
A token store's state for the operations view, read from the refresh counters the token providers keep in it
(:func:`airflow_provider_contacts.auth.count_refresh`): times and counts only, never a token.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow_provider_contacts.auth import STATS_KEY, utc_day_of


def token_state(tokens: dict[str, Any] | None, now: float) -> dict[str, Any]:
    """
    What the operations view shows of a saved token set: expiry, last refresh, today's counts. No token.

    :param tokens: the token store's content, or None when it is empty.
    :param now: the current time in epoch seconds.
    """
    tokens = tokens or {}
    stats = tokens.get(STATS_KEY) or {}
    today = stats.get("day") == utc_day_of(now)
    expires_at = _number(tokens.get("expires_at")) if tokens.get("access_token") else None
    return {
        "stored": bool(tokens.get("access_token")),
        "expires_at": _iso(expires_at),
        "expires_in_s": round(expires_at - now) if expires_at is not None else None,
        "last_refresh_at": _iso(_number(stats.get("last_refresh_at")) or _number(tokens.get("obtained_at"))),
        "last_refused_at": _iso(_number(stats.get("last_refused_at"))),
        "refreshes_today": int(stats.get("refreshes") or 0) if today else 0,
        "refused_today": int(stats.get("refused") or 0) if today else 0,
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds") if epoch else None

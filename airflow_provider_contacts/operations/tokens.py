"""
A token store's state for the operations view, and the refresh counters the token providers keep in it.

The counters travel inside the saved token set under :data:`STATS_KEY`: times and counts only, never a token
or any part of one. They count per UTC day; a new day starts from zero.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

#: The key of the token set that holds the refresh counters.
STATS_KEY = "refresh_stats"


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).date().isoformat()


def count_refresh(previous: dict[str, Any] | None, now: float, *, refused: bool = False) -> dict[str, Any]:
    """
    The refresh counters after one more refresh (or refused refresh) at ``now``.

    :param previous: the token set saved before (its counters are carried on), or None.
    :param now: the refresh's time in epoch seconds.
    :param refused: the token endpoint refused the refresh.
    """
    stats = dict((previous or {}).get(STATS_KEY) or {})
    day = _day(now)
    if stats.get("day") != day:
        stats = {"day": day, "refreshes": 0, "refused": 0, **{k: v for k, v in stats.items() if "_at" in k}}
    if refused:
        stats["refused"] = int(stats.get("refused") or 0) + 1
        stats["last_refused_at"] = now
    else:
        stats["refreshes"] = int(stats.get("refreshes") or 0) + 1
        stats["last_refresh_at"] = now
    return stats


def token_state(tokens: dict[str, Any] | None, now: float) -> dict[str, Any]:
    """
    What the operations view shows of a saved token set: expiry, last refresh, today's counts. No token.

    :param tokens: the token store's content, or None when it is empty.
    :param now: the current time in epoch seconds.
    """
    tokens = tokens or {}
    stats = tokens.get(STATS_KEY) or {}
    today = stats.get("day") == _day(now)
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

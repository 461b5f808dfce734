"""
Webhook deliveries by outcome, read from the receiver's outcome table ``contacts_webhook_outcome``.

The receiver writes one row per delivery (``outcome`` one of recorded, duplicate, ignored, refused,
retry_later; a refusal's ``reason``). This reader only reads, and a database without the table has had no
delivery. :func:`delivery_counts` and :func:`recent_deliveries` have the shapes of the webhook store's
functions of the same names, so either can serve the view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, inspect, select
from sqlalchemy.engine import Connection, Engine

TABLE_NAME = "contacts_webhook_outcome"

outcomes = Table(
    TABLE_NAME,
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("conn_id", String(250)),
    Column("received_at", DateTime(timezone=True)),
    Column("outcome", String(20)),
    Column("reason", String(100)),
    Column("http_status", Integer),
    Column("event_type", String(100)),
    Column("webhook_id", String(200)),
    Column("location_id", String(100)),
    Column("contact_id", String(100)),
)

#: The columns a recent delivery shows (all of them but the row id and the connection).
SHOWN = (
    "received_at",
    "outcome",
    "reason",
    "http_status",
    "event_type",
    "webhook_id",
    "location_id",
    "contact_id",
)


def _has_table(connection: Connection | Engine) -> bool:
    return inspect(connection).has_table(TABLE_NAME)


def delivery_counts(connection: Connection | Engine, conn_id: str, since: datetime) -> dict[str, int]:
    """
    Deliveries of a connection since a time, by outcome: ``recorded``, ``refused:<reason>``, ...

    :param connection: the database holding the table (the metadata database).
    :param conn_id: the connection the deliveries came for.
    :param since: the earliest receipt time counted.
    """
    with _connected(connection) as db:
        if not _has_table(db):
            return {}
        query = (
            select(outcomes.c.outcome, outcomes.c.reason, func.count())
            .where(outcomes.c.conn_id == conn_id, outcomes.c.received_at >= since)
            .group_by(outcomes.c.outcome, outcomes.c.reason)
        )
        counts: dict[str, int] = {}
        for outcome, reason, count in db.execute(query):
            key = f"{outcome}:{reason}" if outcome == "refused" and reason else str(outcome)
            counts[key] = counts.get(key, 0) + int(count)
        return dict(sorted(counts.items()))


def recent_deliveries(connection: Connection | Engine, conn_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """
    A connection's newest deliveries, newest first.

    :param connection: the database holding the table.
    :param conn_id: the connection the deliveries came for.
    :param limit: at most this many.
    """
    with _connected(connection) as db:
        if not _has_table(db):
            return []
        query = (
            select(*(outcomes.c[name] for name in SHOWN))
            .where(outcomes.c.conn_id == conn_id)
            .order_by(outcomes.c.received_at.desc(), outcomes.c.id.desc())
            .limit(int(limit))
        )
        return [dict(row._mapping) for row in db.execute(query)]


class _connected:
    """Use a given connection as is, or open (and close) one of a given engine."""

    def __init__(self, connection: Connection | Engine) -> None:
        self._given = connection
        self._opened: Connection | None = None

    def __enter__(self) -> Connection:
        if isinstance(self._given, Engine):
            self._opened = self._given.connect()
            return self._opened
        return self._given

    def __exit__(self, *exc: object) -> None:
        if self._opened is not None:
            self._opened.close()

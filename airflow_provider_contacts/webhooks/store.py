"""
The replay store and the delivery log, two tables of a SQL database.

``contacts_webhook_delivery``: webhook ids already accepted. The receiver plugin keeps it in Airflow's
metadata database (so it holds across restarts and across several API servers: the primary key makes the
second claim of an id fail, whichever server makes it); the forwarder keeps it in a database of its own.

``contacts_webhook_outcome``: one row per delivery to a connection that receives webhooks (what was
answered and why, with the event's type and ids; never the body or a signature), for the operations view:
:func:`delivery_counts` and :func:`recent_deliveries` read it. Both tables are created when missing and
pruned together.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    delete,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from airflow_provider_contacts.webhooks.verify import MAX_AGE_LIMIT

log = logging.getLogger(__name__)

TABLE_NAME = "contacts_webhook_delivery"
OUTCOME_TABLE_NAME = "contacts_webhook_outcome"
#: Ids (and delivery log rows) are kept this long: far beyond the longest timestamp window
#: (:data:`~airflow_provider_contacts.webhooks.verify.MAX_AGE_LIMIT`), so a copy of an accepted delivery is
#: always caught by its id before its timestamp could be accepted again.
RETENTION = timedelta(days=2)
_PRUNE_EVERY = 600.0
assert RETENTION.total_seconds() > 4 * MAX_AGE_LIMIT

#: What the receiver did with a delivery.
OUTCOMES = frozenset({"recorded", "duplicate", "ignored", "refused", "retry_later"})
#: Column lengths of the delivery log; longer values are cut.
_LENGTHS = {
    "conn_id": 250,
    "outcome": 16,
    "reason": 32,
    "event_type": 64,
    "webhook_id": 200,
    "location_id": 64,
    "contact_id": 64,
}

_metadata = MetaData()
deliveries = Table(
    TABLE_NAME,
    _metadata,
    Column("webhook_id", String(200), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
)
outcomes = Table(
    OUTCOME_TABLE_NAME,
    _metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("conn_id", String(_LENGTHS["conn_id"]), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("outcome", String(_LENGTHS["outcome"]), nullable=False),
    Column("reason", String(_LENGTHS["reason"]), nullable=True),
    Column("http_status", SmallInteger, nullable=False),
    Column("event_type", String(_LENGTHS["event_type"]), nullable=True),
    Column("webhook_id", String(_LENGTHS["webhook_id"]), nullable=True),
    Column("location_id", String(_LENGTHS["location_id"]), nullable=True),
    Column("contact_id", String(_LENGTHS["contact_id"]), nullable=True),
    Index("ix_contacts_webhook_outcome_conn_time", "conn_id", "received_at"),
)


@dataclass(frozen=True)
class Outcome:
    """
    One line of the delivery log.

    :param outcome: one of :data:`OUTCOMES`.
    :param http_status: the status answered.
    :param reason: one word (``bad_signature``, ``stale``, ``no_asset`` ...); None when recorded.
    :param event_type: the event's ``type``, when the body was read as an event.
    :param webhook_id: its ``webhookId``.
    :param location_id: its ``locationId``.
    :param contact_id: the contact it names.
    """

    outcome: str
    http_status: int
    reason: str | None = None
    event_type: str | None = None
    webhook_id: str | None = None
    location_id: str | None = None
    contact_id: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}, got {self.outcome!r}")

    def key(self) -> str:
        """``outcome`` or ``outcome:reason``, the key of :func:`delivery_counts`."""
        return self.outcome if self.reason is None else f"{self.outcome}:{self.reason}"


def _cut(name: str, value: str | None) -> str | None:
    return None if value is None else str(value)[: _LENGTHS[name]]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def write_outcome(connection: Connection, conn_id: str, outcome: Outcome, now: datetime) -> None:
    """
    Add a line to the delivery log (every string cut to its column's length).

    :param connection: a connection in an open transaction.
    :param conn_id: the connection the delivery came for.
    :param outcome: what was done.
    :param now: the receipt time (aware).
    """
    values: dict[str, Any] = {
        "conn_id": _cut("conn_id", conn_id),
        "received_at": _utc(now),
        "outcome": outcome.outcome,
        "http_status": outcome.http_status,
    }
    for name in ("reason", "event_type", "webhook_id", "location_id", "contact_id"):
        values[name] = _cut(name, getattr(outcome, name))
    connection.execute(insert(outcomes).values(**values))


def _reader(connection_or_engine: Connection | Engine) -> Any:
    if isinstance(connection_or_engine, Engine):
        return connection_or_engine.connect()
    return contextlib.nullcontext(connection_or_engine)  # the caller's: not closed here


def delivery_counts(
    connection_or_engine: Connection | Engine, conn_id: str, since: datetime
) -> dict[str, int]:
    """
    Count a connection's deliveries since a time, by ``outcome`` or ``outcome:reason``.

    For example ``{"recorded": 40, "duplicate:seen_before": 2, "refused:bad_signature": 1}``; empty when
    nothing came (or the table does not exist yet).

    :param connection_or_engine: the database holding the log (Airflow's metadata database for the plugin).
    :param conn_id: the connection.
    :param since: the earliest receipt time counted (aware).
    """
    with _reader(connection_or_engine) as connection:
        if not inspect(connection).has_table(OUTCOME_TABLE_NAME):
            return {}
        query = (
            select(outcomes.c.outcome, outcomes.c.reason, func.count())
            .where(outcomes.c.conn_id == conn_id, outcomes.c.received_at >= _utc(since))
            .group_by(outcomes.c.outcome, outcomes.c.reason)
        )
        counts: dict[str, int] = {}
        for outcome, reason, count in connection.execute(query):
            key = outcome if reason is None else f"{outcome}:{reason}"
            counts[key] = counts.get(key, 0) + int(count)
        return counts


def recent_deliveries(
    connection_or_engine: Connection | Engine, conn_id: str, limit: int = 20
) -> list[dict[str, Any]]:
    """
    A connection's latest deliveries, newest first.

    Each a dict of ``id``, ``conn_id``, ``received_at`` (aware, UTC), ``outcome``, ``reason``, ``http_status``,
    ``event_type``, ``webhook_id``, ``location_id``, ``contact_id``; empty when the table does not exist yet.

    :param connection_or_engine: the database holding the log.
    :param conn_id: the connection.
    :param limit: the most rows returned.
    """
    with _reader(connection_or_engine) as connection:
        if not inspect(connection).has_table(OUTCOME_TABLE_NAME):
            return []
        query = (
            select(outcomes)
            .where(outcomes.c.conn_id == conn_id)
            .order_by(outcomes.c.received_at.desc(), outcomes.c.id.desc())
            .limit(int(limit))
        )
        rows = [dict(row._mapping) for row in connection.execute(query)]
    for row in rows:
        row["received_at"] = _utc(row["received_at"])
    return rows


class ReplayStore:
    """
    Claim webhook ids once.

    :param retention: how long an id is remembered.
    """

    def __init__(self, retention: timedelta = RETENTION) -> None:
        self.retention = retention
        self._ready: set[int] = set()
        self._lock = threading.Lock()
        # None: never pruned in this process, so the first call prunes (whatever time.monotonic() says: it
        # counts from the machine's boot).
        self._last_prune: float | None = None

    def ensure_table(self, engine: Engine) -> None:
        """
        Create the tables if they are missing (once per engine and process; a concurrent creator is tolerated).

        :param engine: the database.
        """
        if id(engine) in self._ready:
            return
        with self._lock:
            for table in (deliveries, outcomes):
                try:
                    table.create(engine, checkfirst=True)
                except (OperationalError, ProgrammingError, IntegrityError):
                    # Another server created it between the check and the CREATE (PostgreSQL reports that
                    # as a unique violation on its catalogue).
                    if not inspect(engine).has_table(table.name):
                        raise
            self._ready.add(id(engine))

    def claim(self, connection: Connection, webhook_id: str, now: datetime) -> bool:
        """
        Remember an id inside the caller's transaction; False when it was already there (a replay).

        Call it first in the transaction: on a replay the caller rolls back, losing nothing else.

        :param connection: a connection in an open transaction (the session's, to commit with the event).
        :param webhook_id: the delivery's id.
        :param now: the receipt time.
        """
        try:
            connection.execute(insert(deliveries).values(webhook_id=webhook_id, received_at=now))
        except IntegrityError:
            return False
        return True

    def release(self, connection: Connection, webhook_id: str) -> None:
        """
        Forget a claimed id whose event could not be passed on, so HighLevel's retry is accepted.

        :param connection: a connection in an open transaction.
        :param webhook_id: the delivery's id.
        """
        connection.execute(delete(deliveries).where(deliveries.c.webhook_id == webhook_id))

    def prune(self, connection: Connection, now: datetime) -> int:
        """
        Forget ids and delivery log rows older than the retention: on the first call, then at most every ten
        minutes per process.

        :param connection: a connection in an open transaction.
        :param now: the current time.
        :return: how many ids were deleted.
        """
        tick = time.monotonic()
        if self._last_prune is not None and tick - self._last_prune < _PRUNE_EVERY:
            return 0
        self._last_prune = tick
        cutoff = now - self.retention
        result = connection.execute(delete(deliveries).where(deliveries.c.received_at < cutoff))
        connection.execute(delete(outcomes).where(outcomes.c.received_at < _utc(cutoff)))
        return result.rowcount or 0

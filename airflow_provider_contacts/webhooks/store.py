"""
The replay store: webhook ids already accepted, in a table of a SQL database.

The receiver plugin keeps it in Airflow's metadata database (so it holds across restarts and across several
API servers: the primary key makes the second claim of an id fail, whichever server makes it); the
forwarder keeps it in a database of its own. The table is created when missing.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, insert, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

log = logging.getLogger(__name__)

TABLE_NAME = "contacts_webhook_delivery"
#: Ids are kept this long; HighLevel retries a delivery for about an hour (6 tries, 10 minutes apart).
RETENTION = timedelta(days=2)
_PRUNE_EVERY = 600.0

_metadata = MetaData()
deliveries = Table(
    TABLE_NAME,
    _metadata,
    Column("webhook_id", String(200), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
)


class ReplayStore:
    """
    Claim webhook ids once.

    :param retention: how long an id is remembered.
    """

    def __init__(self, retention: timedelta = RETENTION) -> None:
        self.retention = retention
        self._ready: set[int] = set()
        self._lock = threading.Lock()
        self._last_prune = 0.0

    def ensure_table(self, engine: Engine) -> None:
        """
        Create the table if it is missing (once per engine and process; a concurrent creator is tolerated).

        :param engine: the database.
        """
        if id(engine) in self._ready:
            return
        with self._lock:
            try:
                deliveries.create(engine, checkfirst=True)
            except (OperationalError, ProgrammingError, IntegrityError):
                # Another server created it between the check and the CREATE (PostgreSQL reports that as a
                # unique violation on its catalogue).
                if not inspect(engine).has_table(TABLE_NAME):
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
        Forget ids older than the retention, at most every ten minutes per process.

        :param connection: a connection in an open transaction.
        :param now: the current time.
        :return: how many were deleted.
        """
        if time.monotonic() - self._last_prune < _PRUNE_EVERY:
            return 0
        self._last_prune = time.monotonic()
        result = connection.execute(delete(deliveries).where(deliveries.c.received_at < now - self.retention))
        return result.rowcount or 0

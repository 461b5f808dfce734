"""
The reporting database: any Airflow SQL connection, through common-sql's ``DbApiHook``.

``get_sql_hook(conn_id)`` returns the connection's own hook (``SqliteHook``, ``PostgresHook``, ...). When the
connection is not defined and a ``default_sqlite_path`` is given, it falls back to a SQLite file there, so the
example DAGs run on a laptop with nothing configured; production points the connection id at PostgreSQL.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook
from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowNotFoundException

log = logging.getLogger(__name__)

DEFAULT_REPORTING_CONN_ID = "contacts_reporting"


def sqlite_connection(conn_id: str, path: str | os.PathLike[str]) -> Connection:
    """
    Build (without saving) an Airflow connection to a SQLite file.

    :param conn_id: the id the connection is known by.
    :param path: the SQLite database file; its directory is created if missing.
    """
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return Connection(conn_id=conn_id, conn_type="sqlite", host=str(path))


def _preset_sqlite_hook(connection: Connection) -> DbApiHook:
    """Return a ``SqliteHook`` bound to a connection that exists only in memory."""
    from airflow.providers.sqlite.hooks.sqlite import SqliteHook

    class _PresetSqliteHook(SqliteHook):
        # SqliteHook.get_uri() looks the connection up again by id: answer with the preset one.
        def get_connection(self, conn_id: str) -> Any:  # type: ignore[override]
            return connection

    return _PresetSqliteHook(sqlite_conn_id=connection.conn_id, connection=connection)


def get_sql_hook(
    conn_id: str = DEFAULT_REPORTING_CONN_ID, default_sqlite_path: str | os.PathLike[str] | None = None
) -> DbApiHook:
    """
    Return the ``DbApiHook`` of an Airflow SQL connection (call it at run time, never at parse time).

    :param conn_id: the Airflow connection id of the reporting database.
    :param default_sqlite_path: a SQLite file to use when ``conn_id`` is not defined; None to fail instead.
    :raises AirflowNotFoundException: the connection is not defined and there is no default.
    :raises TypeError: the connection's hook is not a SQL (DB-API) hook.
    """
    try:
        connection = Connection.get(conn_id)
    except AirflowNotFoundException:
        if default_sqlite_path is None:
            raise
        log.warning(
            "Connection %r is not defined: reporting to the SQLite file %s", conn_id, default_sqlite_path
        )
        return _preset_sqlite_hook(sqlite_connection(conn_id, default_sqlite_path))
    hook = connection.get_hook()
    if not isinstance(hook, DbApiHook):
        raise TypeError(f"Connection {conn_id!r} ({connection.conn_type}) is not a SQL connection")
    return hook

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

from airflow_provider_contacts.extras import require

log = logging.getLogger(__name__)

DEFAULT_REPORTING_CONN_ID = "contacts_reporting"
MYSQL_CONN_TYPES = ("mysql", "mariadb")


class MySqlConnectorHook(DbApiHook):
    """
    A MySQL/MariaDB connection through mysql-connector-python, for machines without the MySQL provider.

    Host, port, login, password and schema (the database) come from the connection, as for ``MySqlHook``.

    :param mysql_conn_id: the Airflow connection.
    """

    conn_name_attr = "mysql_conn_id"
    default_conn_name = "mysql_default"
    conn_type = "mysql"
    hook_name = "MySQL (mysql-connector-python)"
    supports_autocommit = True

    @property
    def dialect_name(self) -> str:
        return "mysql"

    def get_conn(self) -> Any:
        connector = require("mysql.connector", extra="mysql", feature="A MySQL/MariaDB target")
        conn = self.get_connection(getattr(self, self.conn_name_attr))
        return connector.connect(
            host=conn.host or "localhost",
            port=int(conn.port or 3306),
            user=conn.login,
            password=conn.password or "",
            database=conn.schema or None,
            charset="utf8mb4",
        )


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
    require("airflow.providers.sqlite.hooks.sqlite", extra="reporting", feature="The SQLite reporting file")
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
    try:
        hook = connection.get_hook()
    except Exception:
        if connection.conn_type == "sqlite":
            require("airflow.providers.sqlite.hooks.sqlite", extra="reporting", feature="A SQLite target")
        if connection.conn_type not in MYSQL_CONN_TYPES:
            raise
        # The official MySQL provider is not installed (it needs mysqlclient, built against C headers).
        hook = MySqlConnectorHook(mysql_conn_id=conn_id)
    if not isinstance(hook, DbApiHook):
        raise TypeError(f"Connection {conn_id!r} ({connection.conn_type}) is not a SQL connection")
    return hook

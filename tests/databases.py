"""
Scratch databases on the machine's PostgreSQL and MariaDB servers, for tests and benchmarks: each is created
with a unique name and dropped when the block ends; :class:`Unreachable` says why when no server answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


class Unreachable(Exception):
    """The server could not be reached; the message says which and why."""


@contextmanager
def postgres_database(prefix: str = "contacts_wh") -> Iterator[dict[str, Any]]:
    """A new PostgreSQL database, as an Airflow connection dict; dropped afterwards."""
    import psycopg

    try:
        admin = psycopg.connect(**PG, connect_timeout=3, autocommit=True)
    except psycopg.Error as error:
        raise Unreachable(f"PostgreSQL at {PG['host']}:{PG['port']} is unreachable: {error}") from None
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield {
            "conn_type": "postgres",
            "host": PG["host"],
            "port": PG["port"],
            "login": PG["user"],
            "schema": name,
        }
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@contextmanager
def mariadb_database(prefix: str = "contacts_wh") -> Iterator[dict[str, Any]]:
    """A new MariaDB/MySQL database, as an Airflow connection dict; dropped afterwards."""
    import mysql.connector

    try:
        admin = mysql.connector.connect(**MARIADB, connection_timeout=3, autocommit=True)
    except mysql.connector.Error as error:
        raise Unreachable(
            f"MariaDB/MySQL at {MARIADB['host']}:{MARIADB['port']} is unreachable: {error}"
        ) from None
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    cursor = admin.cursor()
    cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        yield {
            "conn_type": "mysql",
            "host": MARIADB["host"],
            "port": MARIADB["port"],
            "login": "root",
            "schema": name,
        }
    finally:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()

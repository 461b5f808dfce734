"""
Fixtures of the warehouse tests: a sandbox in its own process wired in as ``contacts_default``, and a target
database as the Airflow connection ``warehouse``: a SQLite file, or a database of its own (uniquely named,
dropped afterwards) on the PostgreSQL and MariaDB servers of the machine. A server that cannot be reached
skips its tests with the reason.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


@pytest.fixture
def contacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxHandle]:
    """A sandbox server process (30 contacts) as the ``contacts_default`` OAuth connection."""
    with running_sandbox(
        seed=30, random_seed=11, rate_limit=1000, rate_interval=1.0, subprocess_mode=True
    ) as sb:
        connection = dict(sb.connection)
        connection["extra"] = {**connection["extra"], "token_file": str(tmp_path / "tokens.json")}
        monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", json.dumps(connection))
        yield sb


@contextmanager
def _postgres() -> Iterator[dict[str, Any]]:
    import psycopg

    try:
        admin = psycopg.connect(**PG, connect_timeout=3, autocommit=True)
    except psycopg.Error as error:
        pytest.skip(f"PostgreSQL at {PG['host']}:{PG['port']} is unreachable: {error}")
    name = f"contacts_wh_{uuid.uuid4().hex[:12]}"
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
def _mariadb() -> Iterator[dict[str, Any]]:
    import mysql.connector

    try:
        admin = mysql.connector.connect(**MARIADB, connection_timeout=3, autocommit=True)
    except mysql.connector.Error as error:
        pytest.skip(f"MariaDB/MySQL at {MARIADB['host']}:{MARIADB['port']} is unreachable: {error}")
    name = f"contacts_wh_{uuid.uuid4().hex[:12]}"
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


@contextmanager
def _sqlite(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield {"conn_type": "sqlite", "host": str(tmp_path / "warehouse.db")}


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The kind of target (``sqlite``, ``postgres``, ``mariadb``), defined as the connection ``warehouse``."""
    target = {"sqlite": lambda: _sqlite(tmp_path), "postgres": _postgres, "mariadb": _mariadb}[request.param]
    with target() as connection:
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(connection))
        yield request.param

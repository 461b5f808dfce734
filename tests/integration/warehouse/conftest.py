"""
Fixtures of the warehouse tests: a sandbox in its own process wired in as ``contacts_default``, and a target
database as the Airflow connection ``warehouse``: a SQLite file, or a database of its own (uniquely named,
dropped afterwards) on the PostgreSQL and MariaDB servers of the machine. A server that cannot be reached
skips its tests with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox
from tests.databases import Unreachable, mariadb_database, postgres_database


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
def _sqlite(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield {"conn_type": "sqlite", "host": str(tmp_path / "warehouse.db")}


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The kind of target (``sqlite``, ``postgres``, ``mariadb``), defined as the connection ``warehouse``."""
    target = {"sqlite": lambda: _sqlite(tmp_path), "postgres": postgres_database, "mariadb": mariadb_database}
    try:
        with target[request.param]() as connection:
            monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(connection))
            yield request.param
    except Unreachable as error:
        pytest.skip(str(error))

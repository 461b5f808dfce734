"""
Fixtures of the security tests: the warehouse tests' sandbox process (``contacts``) and a target database on
the machine's PostgreSQL or MariaDB server, defined as the Airflow connection ``warehouse`` (uniquely named,
dropped afterwards; an unreachable server skips with the reason), and the hooks package's ``make_hook``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.databases import Unreachable, mariadb_database, postgres_database
from tests.integration.warehouse.conftest import contacts as contacts  # the fixture

# The hook fixtures (a connection per test, token answers) are the hooks package's.
from tests.unit.hooks.conftest import make_hook  # noqa: F401


@pytest.fixture(params=["postgres", "mariadb"])
def server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database on one server (``postgres`` or ``mariadb``), as the connection ``warehouse``."""
    target = {"postgres": postgres_database, "mariadb": mariadb_database}[request.param]
    try:
        with target("contacts_sec") as connection:
            monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(connection))
            yield request.param
    except Unreachable as error:
        pytest.skip(str(error))

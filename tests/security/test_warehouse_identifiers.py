"""
The warehouse boundary, names: a ``table`` whose derived names (child and mapping tables, indexes) would not
fit the target's identifier limit is refused before any statement runs, and no run touches a table it did
not create, on real PostgreSQL (which cuts names to 63 bytes without an error) and MariaDB (64 characters).

The decoys are the tables an attacker or an older run could hold under the names PostgreSQL makes of the
derived ones: the contacts table itself, ``<table>__sweep`` cut to 63 (the old sweep's scratch table, which
at 63 characters is the contacts table) and ``<table>_tasks`` ... cut to 63.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.sandbox import SandboxHandle

pytestmark = pytest.mark.integration

EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
SUFFIXES = ("", "__sweep", "_tasks", "_notes", "_appointments", "_custom_fields")
LIMIT = {"postgres": "63 bytes", "mariadb": "64 characters"}


def _table_name(length: int) -> str:
    return ("wh_" + "abcdefghij" * 7)[:length]


def _connection() -> Any:
    from airflow_provider_contacts.hooks.sql import get_sql_hook

    return get_sql_hook("warehouse").get_conn()


def _quote(server: str, name: str) -> str:
    return f"`{name}`" if server == "mariadb" else f'"{name}"'


def _create_decoys(server: str, names: list[str]) -> None:
    conn = _connection()
    try:
        cursor = conn.cursor()
        for name in names:
            cursor.execute(f"CREATE TABLE {_quote(server, name)} (id VARCHAR(64) PRIMARY KEY, marker TEXT)")
            cursor.execute(f"INSERT INTO {_quote(server, name)} VALUES ('keep', %s)", (f"decoy {name}",))
        conn.commit()
    finally:
        conn.close()


def _snapshot(server: str) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every table of the database: its columns and its rows."""
    current = "DATABASE()" if server == "mariadb" else "current_schema()"
    conn = _connection()
    try:
        cursor = conn.cursor()
        cursor.execute(f"SELECT table_name FROM information_schema.tables WHERE table_schema = {current}")
        tables = sorted(str(row[0]) for row in cursor.fetchall())
        found = {}
        for table in tables:
            cursor.execute(f"SELECT * FROM {_quote(server, table)}")
            columns = [str(d[0]) for d in cursor.description]
            found[table] = (columns, sorted(tuple(map(str, row)) for row in cursor.fetchall()))
        return found
    finally:
        conn.close()


def _run(table: str, include: tuple[str, ...] = ("tasks", "notes", "appointments")) -> dict[str, Any]:
    from airflow_provider_contacts.transfers import ContactsToSqlOperator

    operator = ContactsToSqlOperator(
        task_id="to_sql",
        sql_conn_id="warehouse",
        table=table,
        include=include,
        custom_fields="columns",
        sweep_deleted=True,
    )
    end = datetime.now(timezone.utc) + timedelta(seconds=1)
    context: dict[str, Any] = {"data_interval_start": EPOCH, "data_interval_end": end}
    return operator.execute(context)  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [62, 63, 64])
def test_long_table_is_refused_before_any_statement_and_every_table_survives(
    server: str, contacts: SandboxHandle, length: int
) -> None:
    table = _table_name(length)
    decoys = sorted({(table + suffix)[:63] for suffix in SUFFIXES})
    _create_decoys(server, decoys)
    before = _snapshot(server)
    assert set(before) == set(decoys)

    with pytest.raises(ContactsConfigError) as refused:
        _run(table)

    message = str(refused.value)
    assert message.startswith(f"table {table!r}:") and LIMIT[server] in message
    assert _snapshot(server) == before  # no table created, altered, emptied or dropped


def test_longest_table_that_fits_loads_and_sweeps_beside_the_old_scratch_name(
    server: str, contacts: SandboxHandle
) -> None:
    # The longest derived name is the custom field mapping table, <table>_custom_fields (14 more); the
    # indexes of long tables get short names of their own.
    table = _table_name(63 - len("_custom_fields"))
    old_scratch = f"{table}__sweep"
    _create_decoys(server, [old_scratch])
    decoy = _snapshot(server)[old_scratch]

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    live = [c["id"] for c in contacts.all_contacts()]
    report = _run(table)
    ContactsHook().delete_contact(live[0])
    again = _run(table)

    assert report["merged"]["contacts"]["inserted"] == len(live)
    assert again["merged"]["contacts"]["deleted"] == 1
    after = _snapshot(server)
    assert after[old_scratch] == decoy
    assert set(after) == {old_scratch, *(table + suffix for suffix in SUFFIXES if suffix != "__sweep")}

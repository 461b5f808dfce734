"""
Names the warehouse derives, without a server: custom field names (one per field id, stable, within every
target's limit) and the table, index and column checks of each dialect; the sweep's temporary table on SQLite
next to a table named as the old scratch table.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.engines.records import CustomFields, field_names
from airflow_provider_contacts.engines.sql import DIALECTS, SqlMerger, check_tables, index_name
from airflow_provider_contacts.exceptions import ContactsConfigError

HOSTILE = [
    {"id": "a1", "fieldKey": "contact.tier"},
    {"id": "a2", "fieldKey": "tier"},
    {"id": "a3", "fieldKey": "contact.Tier"},
    {"id": "a4", "fieldKey": "contact.tier!"},
    {"id": "a5", "fieldKey": "contact." + "x" * 70 + "_one"},
    {"id": "a6", "fieldKey": "contact." + "x" * 70 + "_two"},
    {"id": "a7", "fieldKey": "contact.größe"},
    {"id": "a8", "fieldKey": "contact.grüße"},
    {"id": "a9", "fieldKey": "contact.!!!"},
    {"id": "b1", "fieldKey": 'contact.a"; DROP TABLE contacts; --'},
]


def test_every_field_gets_its_own_name_within_every_limit() -> None:
    names = field_names(HOSTILE)
    assert len(set(names.values())) == len(HOSTILE)
    assert names["a1"] == "tier"  # HighLevel's own form keeps its name (existing columns stay)
    assert all(n.startswith("tier_") and len(n) == 13 for i, n in names.items() if i in ("a2", "a3", "a4"))
    columns = [c.name for c in CustomFields("columns", tuple(HOSTILE)).columns()]
    assert len(set(columns)) == len(HOSTILE)
    assert all(len(c) <= 59 and c.isascii() and c.replace("_", "").isalnum() for c in columns)


def test_a_name_never_moves_when_other_fields_come() -> None:
    alone = field_names([HOSTILE[1], HOSTILE[4]])
    together = field_names(HOSTILE)
    assert {i: together[i] for i in alone} == alone


def test_a_plain_key_that_looks_like_a_suffixed_name_does_not_take_it() -> None:
    taken = field_names([{"id": "a2", "fieldKey": "tier"}])["a2"]
    names = field_names([{"id": "a2", "fieldKey": "tier"}, {"id": "z", "fieldKey": f"contact.{taken}"}])
    assert names["z"] == taken and names["a2"] != taken and len(set(names.values())) == 2


@pytest.mark.parametrize(
    ("dialect", "longest"),
    [("postgresql", 50), ("sqlite", 50), ("mysql", 51)],
)
def test_the_longest_table_each_dialect_takes(dialect: str, longest: int) -> None:
    def tables(table: str) -> dict[str, str]:
        return {"contacts": table, **{e: f"{table}_{e}" for e in ("tasks", "notes", "appointments")}}

    check_tables(DIALECTS[dialect], tables("t" * longest))
    with pytest.raises(ContactsConfigError, match=r"^table 'tt+': the appointments table name") as refused:
        check_tables(DIALECTS[dialect], tables("t" * (longest + 1)))
    assert ("63 bytes" if dialect != "mysql" else "64 characters") in str(refused.value)


def test_multibyte_names_count_in_bytes_on_postgresql() -> None:
    check_tables(DIALECTS["mysql"], {"contacts": "é" * 60})
    with pytest.raises(ContactsConfigError, match="120 bytes"):
        check_tables(DIALECTS["postgresql"], {"contacts": "é" * 60})


@pytest.mark.parametrize("table", ["", "a..b", "a.b.c", ".x"])
def test_malformed_tables_are_refused(table: str) -> None:
    with pytest.raises(ContactsConfigError, match=r"^table "):
        check_tables(DIALECTS["postgresql"], {"contacts": table})


class _SqliteHook:
    dialect_name = "sqlite"
    log = logging.getLogger("sqlite-hook")

    def __init__(self, path: Path) -> None:
        self.path = path

    def get_conn(self) -> Any:
        return sqlite3.connect(self.path)


def test_sweep_uses_a_temporary_table_and_leaves_the_old_scratch_name_alone(tmp_path: Path) -> None:
    from airflow_provider_contacts.engines.records import table_specs

    db = tmp_path / "w.db"
    with sqlite3.connect(db) as conn:
        conn.execute('CREATE TABLE "contacts__sweep" (id TEXT PRIMARY KEY, marker TEXT)')
        conn.execute("INSERT INTO contacts__sweep VALUES ('keep', 'decoy')")
    merger = SqlMerger(_SqliteHook(db), {"contacts": "contacts"})  # type: ignore[arg-type]
    specs = table_specs(CustomFields("json"), ())
    merger.prepare({"contacts": specs["contacts"]})
    merger.merge("contacts", [specs["contacts"].to_row({"id": i}, _now()) for i in ("c1", "c2")])
    assert merger.sweep(["c1"], expected=1) == 1
    merger.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT * FROM contacts__sweep").fetchall() == [("keep", "decoy")]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert names == {"contacts", "contacts__sweep"}
        assert conn.execute("SELECT id FROM contacts WHERE _deleted = 1").fetchall() == [("c2",)]


def _now() -> Any:
    from datetime import datetime, timezone

    return datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def test_a_long_table_gets_a_short_index_name_of_its_own() -> None:
    long_a, long_b = "a" * 49 + "_appointments", "a" * 49 + "_appointmentz"
    names = {index_name(long_a), index_name(long_b)}
    assert len(names) == 2 and all(len(n.encode()) <= 63 for n in names)
    assert index_name("contacts_tasks") == "contacts_tasks_contact_id"
    assert len(index_name("é" * 40).encode()) <= 63

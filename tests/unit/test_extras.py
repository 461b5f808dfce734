"""Optional features fail when used, not when imported, with an error naming the extra to install."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError, ContactsMissingExtraError
from airflow_provider_contacts.extras import require


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import <module>`` fail as it does where the module is not installed."""
    for name in modules:
        for loaded in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, name, None)


def assert_names_extra(error: pytest.ExceptionInfo[ContactsMissingExtraError], extra: str) -> None:
    assert error.value.extra == extra
    assert f"pip install 'airflow-provider-contacts[{extra}]'" in str(error.value)
    assert isinstance(error.value, ContactsConfigError)


def test_require_returns_the_module() -> None:
    assert require("json", extra="none", feature="JSON") is sys.modules["json"]


@pytest.mark.parametrize("name", ["contacts_no_such_module", "contacts_no_such_package.sub"])
def test_require_names_the_extra_and_the_missing_module(name: str) -> None:
    with pytest.raises(ContactsMissingExtraError) as error:
        require(name, extra="reporting", feature="The chart")
    assert_names_extra(error, "reporting")
    assert "contacts_no_such" in str(error.value) and str(error.value).startswith("The chart needs")


def test_the_chart_without_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from airflow_provider_contacts.reporting.chart import render_chart

    hide(monkeypatch, "matplotlib")
    row = {"computed_at": datetime(2026, 1, 1, tzinfo=timezone.utc), "contacts_total": 1}
    with pytest.raises(ContactsMissingExtraError) as error:
        render_chart([row], tmp_path / "chart.png")
    assert_names_extra(error, "reporting")
    assert not (tmp_path / "chart.png").exists()


def test_the_sqlite_reporting_file_without_the_sqlite_provider(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airflow_provider_contacts.hooks.sql import get_sql_hook

    hide(monkeypatch, "airflow.providers.sqlite")
    with pytest.raises(ContactsMissingExtraError) as error:
        get_sql_hook("contacts_extras_test_missing", default_sqlite_path=tmp_path / "r.sqlite")
    assert_names_extra(error, "reporting")


def test_a_mysql_target_without_the_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_contacts.hooks.sql import MySqlConnectorHook

    hide(monkeypatch, "mysql")
    with pytest.raises(ContactsMissingExtraError) as error:
        MySqlConnectorHook(mysql_conn_id="contacts_extras_test_missing").get_conn()
    assert_names_extra(error, "mysql")


def test_parquet_without_pyarrow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from airflow_provider_contacts.engines.extract import Window
    from airflow_provider_contacts.engines.storage import FileSink

    hide(monkeypatch, "pyarrow")
    start = datetime(2026, 12, 31, tzinfo=timezone.utc)
    with pytest.raises(ContactsMissingExtraError) as error:
        FileSink(tmp_path, Window(start, start.replace(year=2027, month=1, day=1)), "parquet")
    assert_names_extra(error, "parquet")
    assert "file_format 'parquet'" in str(error.value)


def test_the_shared_budget_without_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_contacts.transport.shared import RedisWindow

    hide(monkeypatch, "redis")
    with pytest.raises(ContactsMissingExtraError) as error:
        RedisWindow("redis://:secret@127.0.0.1:6379/0", "app:loc", limit=10, window=10.0, hold=60.0)
    assert_names_extra(error, "redis")
    assert "secret" not in str(error.value)


@pytest.fixture
def lineage_without_openlineage(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The lineage module imported where the OpenLineage provider is not installed; reloaded after."""
    import airflow_provider_contacts.lineage as lineage

    with monkeypatch.context() as patch:
        hide(patch, "airflow.providers.openlineage")
        yield importlib.reload(lineage)
    importlib.reload(lineage)


def test_lineage_imports_without_openlineage_and_names_it_when_used(
    lineage_without_openlineage: object,
) -> None:
    lineage = lineage_without_openlineage
    assert lineage.highlevel_namespace("loc1") == "highlevel://loc1"  # type: ignore[attr-defined]
    with pytest.raises(ContactsMissingExtraError) as error:
        lineage.highlevel_datasets("loc1", ["contacts"])  # type: ignore[attr-defined]
    assert_names_extra(error, "openlineage")


def test_lineage_works_again_with_openlineage() -> None:
    from airflow_provider_contacts.lineage import highlevel_datasets

    (dataset,) = highlevel_datasets("loc1", ["contacts"])
    assert (dataset.namespace, dataset.name) == ("highlevel://loc1", "contacts")

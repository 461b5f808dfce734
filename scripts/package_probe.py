"""
Run inside the package check's virtual environment (the wheel installed without extras): import every module of
the provider, then use each optional feature and record what it says, as JSON in the file named by the first
argument (Airflow logs to standard output).

Kept free of the repository's code and tests: it sees only what ``pip install airflow-provider-contacts`` gives.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PACKAGE = "airflow_provider_contacts"


def import_every_module() -> dict[str, Any]:
    """Every module of the package, and the error of each that does not import."""
    package = importlib.import_module(PACKAGE)
    failed: dict[str, str] = {}
    names = [PACKAGE]

    def walk_error(name: str) -> None:
        failed[name] = repr(sys.exc_info()[1])

    for info in pkgutil.walk_packages(package.__path__, f"{PACKAGE}.", onerror=walk_error):
        names.append(info.name)
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as error:
            failed[name] = f"{type(error).__name__}: {error}"
    return {"modules": sorted(names), "failed": failed}


def _lineage(tmp: Path) -> None:
    from airflow_provider_contacts.lineage import highlevel_datasets

    highlevel_datasets("probeLocation", ["contacts"])


def _chart(tmp: Path) -> None:
    from airflow_provider_contacts.reporting.chart import render_chart

    render_chart([{"computed_at": datetime.now(timezone.utc), "contacts_total": 1}], tmp / "chart.png")


def _sqlite_reporting(tmp: Path) -> None:
    from airflow_provider_contacts.hooks.sql import get_sql_hook

    get_sql_hook("contacts_package_probe", default_sqlite_path=tmp / "reporting.sqlite")


def _mysql_target(tmp: Path) -> None:
    from airflow_provider_contacts.hooks.sql import MySqlConnectorHook

    MySqlConnectorHook(mysql_conn_id="contacts_package_probe").get_conn()


def _redis_budget(tmp: Path) -> None:
    from airflow_provider_contacts.transport.shared import RedisWindow

    RedisWindow("redis://127.0.0.1:6379/0", "probe:location", limit=10, window=10.0, hold=60.0)


def _parquet_files(tmp: Path) -> None:
    from airflow_provider_contacts.engines.extract import Window
    from airflow_provider_contacts.engines.storage import FileSink

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    FileSink(tmp, Window(start, start.replace(day=2)), "parquet")


def _alerts(tmp: Path) -> None:
    from airflow_provider_contacts.extras import require

    require("airflow.providers.smtp.notifications.smtp", extra="alerts", feature="contacts_alerts")


#: extra -> (the feature, the module the extra installs, the call that uses the feature)
FEATURES: dict[str, tuple[str, str, Callable[[Path], None]]] = {
    "openlineage": ("lineage datasets", "airflow.providers.openlineage", _lineage),
    "reporting": ("the dashboard chart", "matplotlib", _chart),
    "reporting (SQLite)": (
        "the default SQLite reporting file",
        "airflow.providers.sqlite",
        _sqlite_reporting,
    ),
    "mysql": ("a MySQL/MariaDB target", "mysql.connector", _mysql_target),
    "redis": ("the shared rate budget", "redis", _redis_budget),
    "parquet": ("Parquet files", "pyarrow", _parquet_files),
    "alerts": ("contacts_alerts' e-mail", "airflow.providers.smtp", _alerts),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def use_each_feature() -> dict[str, Any]:
    """Each optional feature's outcome: the error it raised (its type, message and extra) or none."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, (feature, module, use) in FEATURES.items():
            result: dict[str, Any] = {"feature": feature, "module": module, "installed": _installed(module)}
            try:
                use(Path(tmp))
                result["error"] = None
            except Exception as error:
                result.update(
                    error=type(error).__name__, message=str(error), extra=getattr(error, "extra", None)
                )
            results[label] = result
    return results


def main() -> None:
    report = {
        "python": sys.version.split()[0],
        "imports": import_every_module(),
        "features": use_each_feature(),
    }
    from importlib.metadata import version

    report["versions"] = {name: version(name) for name in ("apache-airflow", "airflow-provider-contacts")}
    from airflow_provider_contacts import __version__
    from airflow_provider_contacts.get_provider_info import get_provider_info

    report["package_version"] = __version__
    report["provider_info_versions"] = get_provider_info()["versions"]
    Path(sys.argv[1]).write_text(json.dumps(report))


if __name__ == "__main__":
    main()

"""DAG files for operator tests run with ``dag.test()``, and the helper that makes a folder the DAG bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def use_dag_bundle(
    monkeypatch: pytest.MonkeyPatch, path: Path, name: str = "contacts-operator-tests"
) -> Path:
    """
    Make ``path`` the only DAG bundle: ``dag.test()`` in Airflow 3.3 runs a DAG only once a bundle holds it.

    :param monkeypatch: the test's monkeypatch (the setting is undone after the test).
    :param path: a folder of DAG files.
    :param name: the bundle's name.
    """
    bundle = {
        "name": name,
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(path), "refresh_interval": 0},
    }
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    return path

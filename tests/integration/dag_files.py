"""Helpers for integration tests that run a DAG written by the test with ``dag.test()``."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return value


def load_dag_file(folder: Path, monkeypatch: pytest.MonkeyPatch, dag_id: str, source: str) -> Any:
    """Write a DAG file in a DAGs folder of its own (``dag.test()`` needs it serialised) and import it."""
    path = folder / f"{dag_id}.py"
    path.write_text(source)
    # The dags-folder bundle reads airflow.settings.DAGS_FOLDER (fixed at import), not the environment.
    from airflow import settings

    monkeypatch.setattr(settings, "DAGS_FOLDER", str(folder))
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(folder))
    spec = importlib.util.spec_from_file_location(f"test_dag_{dag_id}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module

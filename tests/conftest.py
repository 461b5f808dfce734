"""Test-wide set-up: an isolated AIRFLOW_HOME, and an Airflow metadata database for the tests that need one."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Before anything imports airflow: never touch the user's own ~/airflow. Removed when the process ends (each
# xdist worker has its own): a run left one per process behind in the temporary directory.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="contacts-airflow-home-"))
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "example_dags"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
# Set, not defaulted: pytest-xdist workers inherit the controlling process's environment, and two workers on
# one database (each with its own home's Fernet key) cannot read each other's encrypted trigger rows.
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the deployment tier's figures (left in a file by whichever process ran the tier)."""
    if hasattr(terminalreporter.config, "workerinput"):
        return  # an xdist worker: the controlling process prints it
    summary = REPO_ROOT / ".deployment-tier-summary.txt"
    if summary.exists():
        terminalreporter.section("deployment tier")
        for line in summary.read_text().splitlines():
            terminalreporter.write_line(line)
        summary.unlink()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate a fresh SQLite metadata database once per test session (about 3 s)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME


@pytest.fixture(autouse=True)
def _fresh_transports():
    """Each test starts with no transport: one test's paused limiter or tokens never reach the next."""
    from airflow_provider_contacts.transport import clear_transports

    clear_transports()
    yield
    clear_transports()

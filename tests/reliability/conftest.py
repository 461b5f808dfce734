"""Shared pieces of the reliability tests: the sandbox fixtures, the connection, records, sync runs, workers.

Every test here runs real HTTP against the sandbox with short rate windows and TTLs, so that the folder stays
fast; nothing sleeps for a fixed time: waits poll a condition.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle
from tests.integration.conftest import sandbox_factory  # noqa: F401 - re-exported fixture
from tests.reliability._worker import sync_context

REPO_ROOT = Path(__file__).resolve().parents[2]
CONN_ENV = "AIRFLOW_CONN_CONTACTS_DEFAULT"
#: The DAG run every sync of these tests belongs to (a retried run keeps its run_after).
RUN_AFTER = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def person(i: int, domain: str) -> dict[str, Any]:
    """
    One valid record in the API's field names, unique by e-mail and phone within a domain.

    :param i: its number.
    :param domain: the e-mail domain of the test.
    """
    return {
        "email": f"person.{i}@{domain}",
        "phone": f"+1628{i:07d}",
        "firstName": f"First{i}",
        "lastName": ("Lovelace", "Hopper", "Turing", "Liskov")[i % 4],
    }


def emails_on_server(sb: SandboxHandle, domain: str) -> Counter[str]:
    """
    How many contacts the server holds per e-mail of a domain.

    :param sb: the sandbox.
    :param domain: the e-mail domain.
    """
    return Counter(
        str(c["email"]) for c in sb.all_contacts() if str(c.get("email") or "").endswith("@" + domain)
    )


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """
    Point ``contacts_default`` at a sandbox: its OAuth connection (a fresh refresh token), rotated tokens in a
    file of this test, fast retries; keyword arguments change the connection's extra.
    """

    def use(sb: SandboxHandle, **extra: Any) -> dict[str, Any]:
        connection = sb.oauth_connection()
        connection["extra"].update(
            {"token_file": str(tmp_path / "tokens.json"), "retry_backoff": 0.01, "retry_backoff_max": 0.05}
        )
        connection["extra"].update(extra)
        monkeypatch.setenv(CONN_ENV, json.dumps(connection))
        return connection

    return use


def run_sync(records: Any, try_number: int = 1, **options: Any) -> tuple[dict[str, Any], Exception | None]:
    """
    Execute ``SyncContactsOperator`` directly; return its report (also when it failed) and the error.

    :param records: the operator's ``records``.
    :param try_number: the task's try.
    :param options: more operator arguments.
    """
    from airflow_provider_contacts.operators import SyncContactsOperator

    operator = SyncContactsOperator(task_id="reliability_sync", records=records, **options)
    context = sync_context(RUN_AFTER, try_number)
    try:
        return operator.execute(context), None
    except Exception as error:
        return context["ti"].xcom.get("return_value", {}), error


def worker(*args: str) -> subprocess.Popen[bytes]:
    """
    Start ``python -m tests.reliability._worker <args>`` with this process's environment (connection too).

    :param args: the worker's mode and options.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability._worker", *args],
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

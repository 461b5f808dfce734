"""Token race: 8 processes x 16 threads start together on one token store whose access token has expired.

With a ``FileTokenStore`` (OS lock shared by the processes) exactly one refresh may happen and no refresh
token may be refused. A ``VariableTokenStore`` has no cross-process lock, so refreshes may race; the rule is
zero failed calls and no lock-out: the refresh token left in the store still works.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_contacts.auth import FileTokenStore, TokenStore, VariableTokenStore
from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.sandbox import SandboxHandle
from tests.reliability._worker import wait_for
from tests.reliability.conftest import worker

pytestmark = pytest.mark.integration

PROCESSES = 8
THREADS = 16
CALLS = 3


def expire_stored_token(store: TokenStore) -> dict[str, Any]:
    """
    Get a token pair into the store through a hook (one refresh), then mark its access token expired.

    :param store: the shared store.
    :return: the stored tokens, as the workers will find them.
    """
    ContactsHook(token_store=store).auth.access_token()
    tokens = store.load()
    assert tokens and tokens["refresh_token"]
    tokens["expires_at"] = time.time() - 60
    store.save(tokens)
    return tokens


def race(store_spec: str, folder: Path) -> list[dict[str, Any]]:
    """
    Start the worker processes, release them together once all are ready, and collect their outcomes.

    :param store_spec: ``file:PATH`` or ``variable:KEY``.
    :param folder: where the signal and result files go.
    """
    go = folder / "go"
    procs = []
    for n in range(PROCESSES):
        procs.append(
            worker(
                "token",
                "--store",
                store_spec,
                "--threads",
                str(THREADS),
                "--calls",
                str(CALLS),
                "--ready",
                str(folder / f"ready-{n}"),
                "--go",
                str(go),
                "--out",
                str(folder / f"out-{n}.json"),
            )
        )
    try:
        wait_for(
            lambda: all(
                (folder / f"ready-{n}").exists() or p.poll() is not None for n, p in enumerate(procs)
            ),
            timeout=240,
            what="the workers to start",
            poll=0.05,
        )
        go.touch()
        outputs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, stderr) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, stderr.decode()[-3000:]
    return [json.loads((folder / f"out-{n}.json").read_text()) for n in range(PROCESSES)]


def refresh_token_still_works(sb: SandboxHandle, refresh_token: str) -> bool:
    """
    Whether the server still accepts a refresh token (no lock-out).

    :param sb: the sandbox.
    :param refresh_token: the token to try.
    """
    form = {
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "user_type": "Location",
    }
    return requests.post(sb.base_url + "/oauth/token", data=form, timeout=30).status_code == 200


@pytest.fixture
def race_sandbox(sandbox_factory: Callable[..., SandboxHandle], connect: Callable[..., Any]) -> SandboxHandle:
    """A sandbox whose burst limit never bites, with ``contacts_default`` pointing at it."""
    sb = sandbox_factory(seed=5, rate_limit=100_000, rate_interval=1.0)
    connect(sb, requests_per_10s=100_000, rate_limit_window=1.0)
    return sb


def test_file_store_one_refresh_for_128_threads(race_sandbox: SandboxHandle, tmp_path: Path) -> None:
    path = tmp_path / "shared-tokens.json"
    before = expire_stored_token(FileTokenStore(path))
    race_sandbox.reset_stats()

    results = race(f"file:{path}", tmp_path)

    failures = [f for r in results for f in r["failures"]]
    assert failures == []
    assert sum(r["ok"] for r in results) == PROCESSES * THREADS * CALLS
    stats = race_sandbox.stats()
    assert stats["token_refreshes"] == 1
    assert stats["rejected_refresh_tokens"] == 0
    assert sum(r["refreshes"] for r in results) == 1
    after = FileTokenStore(path).load()
    assert after is not None and after["refresh_token"] != before["refresh_token"]
    assert stats["requests_by_status"].get("401", 0) == 0
    assert refresh_token_still_works(race_sandbox, after["refresh_token"])


@pytest.mark.airflow_db
def test_variable_store_no_failed_call_and_no_lockout(
    airflow_db: Path, race_sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.configuration import conf

    # Workers of one deployment share the Fernet key (unit-test mode makes a new one per process).
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", conf.get("core", "fernet_key"))
    key = f"contacts_token__race_{time.time_ns()}"
    before = expire_stored_token(VariableTokenStore(key))
    race_sandbox.reset_stats()

    results = race(f"variable:{key}", tmp_path)

    failures = [f for r in results for f in r["failures"]]
    assert failures == []
    assert sum(r["ok"] for r in results) == PROCESSES * THREADS * CALLS
    stats = race_sandbox.stats()
    # No cross-process lock: at most one refresh per process, the losers recover from the store.
    assert 1 <= stats["token_refreshes"] <= PROCESSES
    after = VariableTokenStore(key).load()
    assert after is not None and after["refresh_token"] != before["refresh_token"]
    assert refresh_token_still_works(race_sandbox, after["refresh_token"])

"""A real ``airflow api-server`` with the webhook plugin, its own fresh metadata database, and the sandbox."""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contacts_sandbox.processes import airflow_env, airflow_process, free_port, wait_until
from contacts_sandbox.server import SandboxHandle, running_sandbox

LOCATION = "sbxLoc0000000000000A"

DAG_FILE = """
from datetime import datetime

from airflow.sdk import dag, task

from airflow_provider_contacts.assets import KINDS, contacts_asset

for location in %r:
    for kind in KINDS:
        suffix = "" if location == %r else f"_{location}"

        @dag(
            dag_id=f"on_{kind}_webhooks{suffix}",
            schedule=[contacts_asset(location, kind)],
            start_date=datetime(2026, 1, 1),
        )
        def on_webhooks():
            @task
            def nothing():
                pass

            nothing()

        on_webhooks()
"""


def public_key_of(key: Ed25519PrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@dataclass
class WebhookWorld:
    """The running pieces: the sandbox, the API server's URL, its database, and a key the test signs with."""

    sandbox: SandboxHandle
    api_url: str
    db_path: Path
    test_key: Ed25519PrivateKey
    log_path: Path

    def receiver(self, conn_id: str) -> str:
        return f"{self.api_url}/contacts-webhooks/{conn_id}"

    def events(self, kind: str = "contacts", location: str = LOCATION) -> list[dict[str, Any]]:
        """Every asset event recorded on ``contacts_asset(location, kind)``, oldest first (their extra)."""
        with sqlite3.connect(self.db_path, timeout=30) as db:
            rows = db.execute(
                "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = ? ORDER BY e.id",
                (f"highlevel://{location}/{kind}",),
            ).fetchall()
        return [json.loads(extra) for (extra,) in rows]

    def settled(self) -> dict[str, Any]:
        """Wait until the sandbox has no delivery in flight; return its webhook counters."""
        return wait_until(
            lambda: (s := self.sandbox.webhooks())["pending"] == 0 and s, 60, "webhook deliveries"
        )


def _airflow(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed: {result.stderr[-2000:]}")


@contextmanager
def running_webhook_world(
    home: Path,
    connections: Callable[[SandboxHandle, Ed25519PrivateKey], dict[str, dict[str, Any]]],
    *,
    asset_locations: Sequence[str] = (LOCATION,),
    env_extra: dict[str, str] | None = None,
    **sandbox_options: Any,
) -> Iterator[WebhookWorld]:
    """
    Start the sandbox (its own process), then ``airflow api-server`` on a fresh SQLite database in ``home``
    with DAGs that schedule on the webhook assets of ``asset_locations``.

    :param home: an empty directory, the AIRFLOW_HOME.
    :param connections: builds the connections (conn id -> connection dict) from the sandbox and the test key.
    :param asset_locations: the locations whose assets DAGs use.
    :param env_extra: more environment for the Airflow processes.
    :param sandbox_options: for :func:`running_sandbox`.
    """
    (home / "dags").mkdir()
    (home / "dags" / "on_webhooks.py").write_text(DAG_FILE % (tuple(asset_locations), LOCATION))
    test_key = Ed25519PrivateKey.generate()
    env = airflow_env(home, AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True", **(env_extra or {}))
    try:
        _airflow(env, "db", "migrate")
    except RuntimeError as exc:
        pytest.skip(f"cannot create an Airflow metadata database here: {exc}")
    options = {
        "subprocess_mode": True,
        "rate_limit": 100_000,
        "webhook_retry_scale": 0.001,
        **sandbox_options,
    }
    with running_sandbox(**options) as sandbox:
        for conn_id, connection in connections(sandbox, test_key).items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(connection)
        port = free_port()
        api_url = f"http://127.0.0.1:{port}"
        with airflow_process(env, home, "api-server", "--host", "127.0.0.1", "--port", str(port)) as process:
            # Parsing the DAGs (which creates their assets) overlaps the API server's start.
            _airflow(env, "dags", "reserialize")

            def healthy() -> bool:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"airflow api-server exited ({process.returncode}); see {home}/api-server.log"
                    )
                try:
                    return requests.get(api_url + "/api/v2/monitor/health", timeout=2).status_code == 200
                except requests.RequestException:
                    return False

            wait_until(healthy, 180, "airflow api-server to answer")
            yield WebhookWorld(sandbox, api_url, home / "airflow.db", test_key, home / "api-server.log")


def _connections(sandbox: SandboxHandle, test_key: Ed25519PrivateKey) -> dict[str, dict[str, Any]]:
    connection = sandbox.connection
    wrong = {
        **connection,
        "extra": {**connection["extra"], "webhook_public_key": public_key_of(Ed25519PrivateKey.generate())},
    }
    test = {
        "conn_type": "contacts",
        "extra": {"webhook_public_key": public_key_of(test_key), "location_id": LOCATION},
    }
    return {"contacts_webhooks": connection, "contacts_wrong_key": wrong, "contacts_test_key": test}


@pytest.fixture(scope="package")
def webhook_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookWorld]:
    """The sandbox and an API server with the plugin; the sandbox's webhooks go to ``contacts_webhooks``."""
    with running_webhook_world(tmp_path_factory.mktemp("webhook-airflow-home"), _connections) as world:
        world.sandbox.set_webhooks(urls=[world.receiver("contacts_webhooks")])
        yield world

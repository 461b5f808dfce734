"""A real ``airflow api-server`` with the webhook plugin, its own fresh metadata database, and the sandbox."""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from airflow_provider_contacts.sandbox.processes import airflow_env, airflow_process, free_port, wait_until
from airflow_provider_contacts.sandbox.server import SandboxHandle, running_sandbox

LOCATION = "sbxLoc0000000000000A"

DAG_FILE = """
from datetime import datetime

from airflow.sdk import dag, task

from airflow_provider_contacts.assets import KINDS, contacts_asset

for kind in KINDS:

    @dag(dag_id=f"on_{kind}_webhooks", schedule=[contacts_asset("%s", kind)], start_date=datetime(2026, 1, 1))
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

    def events(self, kind: str = "contacts") -> list[dict[str, Any]]:
        """Every asset event recorded on ``contacts_asset(LOCATION, kind)``, oldest first (their extra)."""
        with sqlite3.connect(self.db_path, timeout=30) as db:
            rows = db.execute(
                "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = ? ORDER BY e.id",
                (f"highlevel://{LOCATION}/{kind}",),
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


@pytest.fixture(scope="package")
def webhook_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookWorld]:
    """
    Start the sandbox (its own process), then ``airflow api-server`` on a fresh SQLite database with the
    DAGs that schedule on the four webhook assets, and subscribe the receiver to the sandbox.
    """
    home = tmp_path_factory.mktemp("webhook-airflow-home")
    (home / "dags").mkdir()
    (home / "dags" / "on_webhooks.py").write_text(DAG_FILE % LOCATION)
    test_key = Ed25519PrivateKey.generate()
    env = airflow_env(home, AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True")
    try:
        _airflow(env, "db", "migrate")
    except RuntimeError as exc:
        pytest.skip(f"cannot create an Airflow metadata database here: {exc}")
    with running_sandbox(subprocess_mode=True, rate_limit=100_000, webhook_retry_scale=0.001) as sandbox:
        connection = sandbox.connection
        env["AIRFLOW_CONN_CONTACTS_WEBHOOKS"] = json.dumps(connection)
        wrong = {
            **connection,
            "extra": {
                **connection["extra"],
                "webhook_public_key": public_key_of(Ed25519PrivateKey.generate()),
            },
        }
        env["AIRFLOW_CONN_CONTACTS_WRONG_KEY"] = json.dumps(wrong)
        env["AIRFLOW_CONN_CONTACTS_TEST_KEY"] = json.dumps(
            {"conn_type": "contacts", "extra": {"webhook_public_key": public_key_of(test_key)}}
        )
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
            sandbox.set_webhooks(urls=[f"{api_url}/contacts-webhooks/contacts_webhooks"])
            yield WebhookWorld(sandbox, api_url, home / "airflow.db", test_key, home / "api-server.log")

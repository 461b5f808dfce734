"""
A real ``airflow api-server`` with the operations plugin, on a fresh SQLite metadata database, after a run made
here (``small_run``): a sync against the sandbox (``airflow dags test``, which refreshes the OAuth token
and spends the rate budget in Redis), a watcher started by a real triggerer until it saved its watermark, and
two webhooks delivered to the plugin's receiver (one recorded, one refused for its signature).

Authorization is Airflow's SimpleAuthManager with two users: ``operator`` (role op: may read connections) and
``viewer`` (role viewer: may not).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from contacts_sandbox.processes import run_airflow, running_api_server
from contacts_sandbox.server import SandboxHandle, running_sandbox
from tests.integration.operations.small_run import (
    prepare_home,
    send_two_webhooks,
    small_run,
    webhook_key_and_extra,
)

CONN_ID = "contacts_ops"
USERS = {"operator": "op", "viewer": "viewer"}


@dataclass
class OpsWorld:
    """The running pieces and what the run made."""

    sandbox: SandboxHandle
    api_url: str
    db_path: Path
    connection: dict[str, Any]
    redis_prefix: str
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, user: str) -> str:
        """An Airflow API token of ``user`` (its JWT, as the UI's session cookie carries it)."""
        if user not in self.tokens:
            answer = requests.post(
                f"{self.api_url}/auth/token", json={"username": user, "password": f"pw-{user}"}, timeout=30
            )
            answer.raise_for_status()
            self.tokens[user] = answer.json()["access_token"]
        return self.tokens[user]

    def get(self, path: str, user: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return requests.get(f"{self.api_url}{path}", headers=headers, timeout=60)

    def stored_tokens(self) -> dict[str, Any]:
        """The token set the run saved in its Variable (read through Airflow, which decrypts it)."""
        return json.loads(run_airflow(self.env, "variables", "get", f"contacts_token__{CONN_ID}"))

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db_path, timeout=30) as db:
            return db.execute(query, args).fetchall()


def _redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="package")
def ops_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsWorld]:
    if not _redis_available():
        pytest.skip("needs Redis on 127.0.0.1:6379")
    home = tmp_path_factory.mktemp("ops-airflow-home")
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({user: f"pw-{user}" for user in USERS}))
    prefix = f"ops-test-{uuid.uuid4().hex[:12]}"
    import redis

    with running_sandbox(subprocess_mode=True, rate_limit=100_000) as sandbox:
        connection = sandbox.oauth_connection()
        connection["extra"] = {
            **connection["extra"],
            "rate_limit_backend": "redis://127.0.0.1:6379/0",
            "rate_limit_key_prefix": prefix,
        }
        webhook_key, webhook_extra = webhook_key_and_extra(connection["extra"]["location_id"])
        connection["extra"].update(webhook_extra)
        try:
            try:
                env = prepare_home(
                    home,
                    CONN_ID,
                    connection,
                    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=",".join(f"{u}:{r}" for u, r in USERS.items()),
                    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
                    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
                )
            except RuntimeError as exc:
                pytest.skip(f"cannot create an Airflow metadata database here: {exc}")
            small_run(env, home)
            with running_api_server(env, home) as api_url:
                statuses = send_two_webhooks(
                    api_url, CONN_ID, webhook_key, connection["extra"]["location_id"]
                )
                assert statuses == [200, 401], statuses
                yield OpsWorld(sandbox, api_url, home / "airflow.db", connection, prefix, env)
        finally:
            client = redis.Redis(host="127.0.0.1", port=6379)
            keys = list(client.scan_iter(match=f"{prefix}:*"))
            if keys:
                client.delete(*keys)

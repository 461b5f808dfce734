"""
A real Airflow deployment for the tier: its processes, its environment, and a small REST client.

Everything is started here and stopped here: each process runs in its own process group, and
:meth:`Deployment.stop` kills every group (TERM, then KILL) whatever happened. The metadata database is a
fresh PostgreSQL database with a unique name, dropped at the end; Celery's broker keys carry a prefix of
their own in Redis and are deleted at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from contacts_sandbox.processes import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
TIER_DAGS = Path(__file__).resolve().parent / "dags"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS = ("127.0.0.1", 6379)
ADMIN = "admin"


def unreachable_reason() -> str | None:
    """Why the tier cannot run here (PostgreSQL or Redis not reachable), or None."""
    import psycopg2

    try:
        psycopg2.connect(dbname="postgres", connect_timeout=3, **PG).close()
    except Exception as error:
        return f"PostgreSQL at {PG['host']}:{PG['port']} is not reachable ({type(error).__name__})"
    try:
        with socket.create_connection(REDIS, timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            if not sock.recv(16).startswith(b"+PONG"):
                return f"Redis at {REDIS[0]}:{REDIS[1]} does not answer PING"
    except OSError as error:
        return f"Redis at {REDIS[0]}:{REDIS[1]} is not reachable ({type(error).__name__})"
    return None


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    """Send ``sig`` to a process's group (it leads one of its own); a group already gone is no error."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _pg(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


def _redis_delete_prefix(prefix: str, db: int) -> None:
    import redis

    client = redis.Redis(host=REDIS[0], port=REDIS[1], db=db)
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@dataclass
class Deployment:
    """
    The deployment's settings and processes.

    :param home: its AIRFLOW_HOME.
    :param connection: the Contacts connection every process gets (``AIRFLOW_CONN_CONTACTS_DEFAULT``).
    """

    home: Path
    connection: dict[str, Any]
    name: str = field(default_factory=lambda: f"contacts_deploy_{secrets.token_hex(4)}")
    api_port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    redis_db: int = 0
    #: Further connections of every process, by connection id (e.g. the agency connection).
    more_connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The CA bundle every process trusts (``REQUESTS_CA_BUNDLE``), when the sandbox serves HTTPS.
    ca_bundle: Path | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def demo_dir(self) -> Path:
        return self.home / "demo"

    def env(self, **more: str) -> dict[str, str]:
        """The environment of every process of the deployment."""
        sql = f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{self.name}"
        bundles = [
            {
                "name": "contacts_example_dags",
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(EXAMPLE_DAGS), "refresh_interval": 0},
            },
            {
                "name": "deployment_dags",
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(TIER_DAGS), "refresh_interval": 0},
            },
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "CONTACTS_"))}
        if self.ca_bundle is not None:
            env.pop("CURL_CA_BUNDLE", None)  # requests would prefer neither; one bundle, named once
            env["REQUESTS_CA_BUNDLE"] = str(self.ca_bundle)
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql,
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": self.secret,
                "AIRFLOW__API_AUTH__JWT_SECRET": self.secret,
                "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS[0]}:{REDIS[1]}/{self.redis_db}",
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": f"{self.name}:",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{self.name}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "3",
                "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
                # Two cores shared with everything else: give the workers' API calls time to be answered.
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.trigger_log_port),
                "AIRFLOW_CONN_CONTACTS_DEFAULT": json.dumps(self.connection),
                "CONTACTS_DEMO_DIR": str(self.demo_dir),
                "CONTACTS_WATCH_POLL_INTERVAL": "3",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for conn_id, connection in self.more_connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(connection)
        env.update(more)
        return env

    def __post_init__(self) -> None:
        from cryptography.fernet import Fernet

        self.fernet_key = Fernet.generate_key().decode()
        self.secret = secrets.token_urlsafe(24)
        self.trigger_log_port = free_port()
        self.redis_db = int(os.environ.get("CONTACTS_DEPLOY_REDIS_DB", "0"))

    # ------------------------------------------------------------------------------------ life cycle

    def create(self) -> None:
        """Create the database and migrate it."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({ADMIN: self.password}))
        _pg(f'CREATE DATABASE "{self.name}"')
        self.run_cli("db", "migrate")

    def run_cli(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run(
            [self.airflow, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done.stdout

    @property
    def airflow(self) -> str:
        return str(Path(sys.executable).parent / "airflow")

    def start(self, name: str, *args: str, **env: str) -> None:
        """Start one process in a process group of its own; its output goes to ``<home>/<name>.log``."""
        log = (self.home / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [self.airflow, *args],
            env=self.env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.home,
        )
        log.close()

    def start_all(self) -> None:
        self.start("api-server", "api-server", "--port", str(self.api_port), "--host", "127.0.0.1")
        self.start("scheduler", "scheduler", "--skip-serve-logs")
        self.start("dag-processor", "dag-processor")
        self.start("triggerer", "triggerer")
        for worker in ("worker1", "worker2"):
            self.start(
                worker,
                "celery",
                "worker",
                "--celery-hostname",
                f"{worker}-{self.name}@%h",
                "--without-gossip",
                "--without-mingle",
                AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            )

    def stop_process(self, name: str, grace: float = 20) -> None:
        """Stop one process and its children: TERM to the group, KILL after ``grace`` seconds."""
        self.stop_processes([name], grace)

    def stop_processes(self, names: list[str], grace: float) -> None:
        """
        Stop processes and their children: TERM to every group at once, then KILL to each group once its
        leader has exited or ``grace`` seconds have passed (one grace for all of them, not one each).

        :param names: the processes, by name.
        :param grace: seconds they have to stop by themselves.
        """
        stopping = {name: self.processes.pop(name) for name in names if name in self.processes}
        for process in stopping.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, process in stopping.items():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            # The leader is gone or late; children of the group may still be alive: kill them all.
            _signal_group(process, signal.SIGKILL)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                print(f"{name} (pid {process.pid}) did not exit after SIGKILL", file=sys.stderr)

    def stop(self) -> None:
        """Stop every process, drop the database, delete the broker's keys; never raises."""
        try:
            self.stop_processes(list(self.processes), grace=10)
        except Exception as error:
            print(f"stopping the processes failed: {error}", file=sys.stderr)
        try:
            _pg(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception as error:
            print(f"dropping database {self.name} failed: {error}", file=sys.stderr)
        try:
            _redis_delete_prefix(f"{self.name}:", self.redis_db)
        except Exception as error:
            print(f"deleting Redis keys {self.name}:* failed: {error}", file=sys.stderr)

    def check_alive(self) -> None:
        dead = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
        if dead:
            tails = {name: self.log_tail(name) for name in dead}
            raise AssertionError(f"processes exited: {dead}\n{json.dumps(tails, indent=1)[-4000:]}")

    def log_tail(self, name: str, chars: int = 1500) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def server_errors(self) -> list[str]:
        """
        The API server's answers of 500 so far, each with the exception it logged (so that a failing tier
        in CI, whose processes' logs are gone, still says why the server failed).
        """
        path = self.home / "api-server.log"
        if not path.exists():
            return []
        lines = path.read_text(errors="replace").splitlines()
        found = []
        for index, line in enumerate(lines):
            if "status_code=500" not in line:
                continue
            request = re.search(r"method=(\S+) path=(\S+)", line)
            cause = next(
                (
                    later
                    for later in lines[index + 1 : index + 400]
                    if re.match(r"^[\w.]+(Error|Exception)\b", later)
                ),
                "(no exception logged)",
            )
            found.append(f"{' '.join(request.groups()) if request else '?'}: {cause}")
        return found

    def asset_event_extras(self, uri: str) -> list[dict[str, Any]]:
        """
        The ``extra`` of every event recorded on the asset with this URI, read from the metadata database.

        Not from ``GET /api/v2/assets/events``: Airflow 3.3.2 answers that with 500 while a run made by one of
        the events has not started (apache/airflow#71360, fixed by apache/airflow#71379 after 3.3.2), which
        ``contacts_events`` (``max_active_runs=1``) does whenever a webhook comes during a run.
        """
        import psycopg2

        conn = psycopg2.connect(dbname=self.name, **PG)
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = %s"
                    " ORDER BY e.id",
                    (uri,),
                )
                return [
                    json.loads(extra) if isinstance(extra, str) else dict(extra or {}) for (extra,) in cursor
                ]
        finally:
            conn.close()


class Api:
    """A small client of the deployment's REST API (``/api/v2``) with a JWT from ``/auth/token``."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.base = deployment.api_url
        self.session = requests.Session()

    def login(self) -> None:
        response = self.session.post(
            f"{self.base}/auth/token",
            json={"username": ADMIN, "password": self.deployment.password},
            timeout=30,
        )
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.base}/api/v2{path}", timeout=60, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def ready(self) -> bool:
        self.deployment.check_alive()
        try:
            return self.session.get(f"{self.base}/api/v2/monitor/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def dag_parsed(self, dag_id: str) -> bool:
        self.deployment.check_alive()
        response = self.session.get(f"{self.base}/api/v2/dags/{dag_id}", timeout=30)
        return response.status_code == 200

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Trigger a run as the UI does: no logical date, so no data interval."""
        body = {"logical_date": None, "conf": conf or {}}
        return str(self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"])

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 240) -> str:
        """Wait until a run finishes; return its state."""

        def finished() -> str | None:
            self.deployment.check_alive()
            state = self.run_state(dag_id, run_id)
            return state if state in ("success", "failed") else None

        return str(wait_until(finished, timeout, f"{dag_id} run {run_id}"))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return list(self.call("GET", path, params={"limit": 500})["task_instances"])

    def failed_task_instances(self) -> list[dict[str, Any]]:
        found = self.call(
            "GET",
            "/dags/~/dagRuns/~/taskInstances",
            params={"state": ["failed", "upstream_failed"], "limit": 500},
        )
        return list(found["task_instances"])

    def asset_id(self, uri: str) -> int | None:
        """The id of the asset with this URI; None when the asset is not known yet."""
        assets = self.call("GET", "/assets", params={"uri_pattern": uri, "limit": 10})["assets"]
        return next((int(a["id"]) for a in assets if a["uri"] == uri), None)

    def record_asset_event(self, uri: str, extra: dict[str, Any]) -> dict[str, Any]:
        """Record an event on the asset with this URI, as ``POST /assets/events`` (the UI's button) does."""
        asset_id = self.asset_id(uri)
        assert asset_id is not None, f"no asset {uri}"
        return dict(self.call("POST", "/assets/events", json={"asset_id": asset_id, "extra": extra}))

    def variable_keys(self) -> list[str]:
        return [v["key"] for v in self.call("GET", "/variables", params={"limit": 500})["variables"]]

    def test_connection(self, connection_id: str) -> dict[str, Any]:
        conn = self.deployment.connection
        body = {"connection_id": connection_id, "conn_type": conn["conn_type"]}
        return dict(self.call("POST", "/connections/test", json=body))

"""
Webhooks: latency from a contact's creation to its DAG run being queued, webhook vs poller; 1,000 deliveries.

Runs a real Airflow (api-server with the webhook plugin, scheduler, dag-processor, triggerer) on a fresh
PostgreSQL database (SQLite when PostgreSQL is unreachable: the scheduler then uses its SQLite limits),
and the sandbox in its own process delivering webhooks to the API server. Two DAGs:

- ``bench_webhook`` scheduled on ``contacts_asset(location, "contacts")`` (the receiver records the event);
- ``bench_poller`` scheduled on an asset watched by ``ContactChangedTrigger`` (the poller of
  ``contacts_events``; ``--poll-interval``, 60 s like the example DAG).

Part 1 creates ``--contacts`` contacts ``--spacing`` seconds apart and reads, for each, the ``queued_at`` of
the run that consumed its event on each path (median and 95th percentile; goal: webhook p95 < 5 s).
Part 2 creates ``--burst`` contacts as fast as the sandbox takes them and checks that exactly that many
events are recorded (none lost, none twice) and how long the last one took, as a ratio to the creation time
(the best the API allows: an event cannot be recorded before its contact exists).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from _common import figure, machine, parser, verdict

from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox
from contacts_sandbox.processes import airflow_process, free_port, wait_until

LOCATION = "sbxLoc0000000000000A"
DAGS = """
from datetime import datetime

from airflow.sdk import Asset, AssetWatcher, dag, task

from airflow_provider_contacts.assets import contacts_asset
from airflow_provider_contacts.triggers.contacts import ContactChangedTrigger

POLLED = Asset(
    name="bench_contacts_created",
    watchers=[
        AssetWatcher(
            name="bench_contacts_created_watcher",
            trigger=ContactChangedTrigger(contacts_conn_id="contacts_default", event="created", poll_interval=%(poll)s),
        )
    ],
)

for dag_id, asset in (("bench_webhook", contacts_asset("%(location)s", "contacts")), ("bench_poller", POLLED)):

    @dag(dag_id=dag_id, schedule=[asset], start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=1000)
    def bench():
        @task
        def nothing():
            pass

        nothing()

    bench()
"""


@contextmanager
def database() -> Iterator[tuple[str, Callable[[], Any]]]:
    """A fresh PostgreSQL database (dropped after), or a SQLite file; yields its URL and a connect()."""
    try:
        import psycopg2

        admin = psycopg2.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3
        )
    except Exception as exc:
        print(f"  PostgreSQL unreachable ({type(exc).__name__}); using SQLite", flush=True)
        import sqlite3

        folder = Path(tempfile.mkdtemp(prefix="contacts-webhooks-bench-"))
        path = folder / "airflow.db"
        try:
            yield f"sqlite:///{path}", lambda: sqlite3.connect(path, timeout=30)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    admin.autocommit = True
    name = f"contacts_webhooks_bench_{uuid.uuid4().hex[:8]}"
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        yield (
            f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}",
            lambda: psycopg2.connect(host="127.0.0.1", user="postgres", dbname=name),
        )
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def consumed(connect: Callable[[], Any]) -> dict[str, dict[str, float]]:
    """For each DAG: contact id -> ``queued_at`` (epoch s) of the first run that consumed an event naming it."""
    with connect() as db:
        cursor = db.cursor()
        cursor.execute(
            "SELECT r.dag_id, r.queued_at, e.extra FROM dag_run r "
            "JOIN dagrun_asset_event x ON x.dag_run_id = r.id JOIN asset_event e ON e.id = x.event_id "
            "WHERE r.dag_id IN ('bench_webhook', 'bench_poller')"
        )
        rows = cursor.fetchall()
    found: dict[str, dict[str, float]] = {"bench_webhook": {}, "bench_poller": {}}
    for dag_id, queued_at, extra in rows:
        extra = json.loads(extra) if isinstance(extra, str) else extra
        ids = (
            [extra.get("contact_id")]
            if dag_id == "bench_webhook"
            else extra.get("payload", {}).get("contact_ids", [])
        )
        stamp = queued_at.timestamp() if hasattr(queued_at, "timestamp") else _parse(queued_at)
        for contact_id in ids:
            if contact_id and (contact_id not in found[dag_id] or stamp < found[dag_id][contact_id]):
                found[dag_id][contact_id] = stamp
    return found


def _parse(value: str) -> float:
    from datetime import datetime, timezone

    stamp = datetime.fromisoformat(value)
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).timestamp()


def recorded_at(connect: Callable[[], Any]) -> dict[str, float]:
    """Contact id -> when the receiver recorded its webhook event (epoch s)."""
    with connect() as db:
        cursor = db.cursor()
        cursor.execute(
            "SELECT e.timestamp, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            f"WHERE a.uri = 'highlevel://{LOCATION}/contacts'"
        )
        rows = cursor.fetchall()
    found: dict[str, float] = {}
    for stamp, extra in rows:
        extra = json.loads(extra) if isinstance(extra, str) else extra
        found[extra.get("contact_id")] = stamp.timestamp() if hasattr(stamp, "timestamp") else _parse(stamp)
    return found


def webhook_events(connect: Callable[[], Any]) -> list[str]:
    with connect() as db:
        cursor = db.cursor()
        cursor.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            f"WHERE a.uri = 'highlevel://{LOCATION}/contacts'"
        )
        return [(json.loads(x) if isinstance(x, str) else x).get("contact_id") for (x,) in cursor.fetchall()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def create(sandbox: SandboxHandle, client: Any, i: int) -> str:
    email = f"bench{i}-{uuid.uuid4().hex[:6]}@example.com"
    return client.create_contact(locationId=LOCATION, firstName=f"Bench{i}", email=email)["id"]


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--contacts", type=int, default=20, help="contacts created for the latency figures")
    p.add_argument("--spacing", type=float, default=4.0, help="seconds between them")
    p.add_argument("--poll-interval", type=float, default=60.0, help="the poller's interval (the example's)")
    p.add_argument("--burst", type=int, default=1000, help="contacts created at once for the delivery count")
    p.add_argument(
        "--shared-receiver",
        action="store_true",
        help="receive webhooks on the API server that also serves the workers' execution API "
        "(default: a second API server with --apps core, as README advises)",
    )
    args = p.parse_args()
    print(f"machine: {machine()}", flush=True)
    home = Path(tempfile.mkdtemp(prefix="contacts-webhooks-bench-home-"))
    (home / "dags").mkdir()
    (home / "dags" / "bench.py").write_text(DAGS % {"poll": args.poll_interval, "location": LOCATION})
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, home, ignore_errors=True)
        url, connect = stack.enter_context(database())
        sandbox = stack.enter_context(
            running_sandbox(subprocess_mode=True, rate_limit=100_000, webhook_retry_scale=0.001)
        )
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW_CONN_CONTACTS_DEFAULT": json.dumps(sandbox.private_connection()),
            "AIRFLOW_CONN_CONTACTS_WEBHOOKS": json.dumps(sandbox.connection),
        }
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
        )
        api = stack.enter_context(
            airflow_process(env, home, "api-server", "--host", "127.0.0.1", "--port", str(port))
        )
        for component in ("scheduler", "dag-processor", "triggerer"):
            stack.enter_context(airflow_process(env, home, component))
        receiver_port = port
        if not args.shared_receiver:
            receiver_port = free_port()
            stack.enter_context(
                airflow_process(
                    env,
                    home,
                    "api-server",
                    "--apps",
                    "core",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(receiver_port),
                    name="receiver",
                )
            )

        def ready() -> bool:
            if api.poll() is not None:
                raise RuntimeError(f"api-server exited; see {home}/api-server.log")
            with connect() as db:
                cursor = db.cursor()
                cursor.execute("SELECT count(*) FROM dag WHERE dag_id LIKE 'bench_%' AND NOT is_paused")
                dags = cursor.fetchone()[0]
                cursor.execute("SELECT count(*) FROM trigger WHERE triggerer_id IS NOT NULL")
                triggers = cursor.fetchone()[0]
            return dags == 2 and triggers >= 1

        started = time.monotonic()
        wait_until(ready, 300, "the DAGs to be parsed and the watcher to run in the triggerer")
        import requests

        def healthy() -> bool:
            try:
                return all(
                    requests.get(f"http://127.0.0.1:{p}/api/v2/monitor/health", timeout=2).ok
                    for p in {port, receiver_port}
                )
            except requests.RequestException:
                return False

        wait_until(healthy, 180, "the API")
        print(f"  Airflow ready after {time.monotonic() - started:.0f} s; home {home}", flush=True)
        receiver = "shared API server" if args.shared_receiver else "an API server of its own (--apps core)"
        print(f"  webhooks received on {receiver}", flush=True)
        sandbox.set_webhooks(urls=[f"http://127.0.0.1:{receiver_port}/contacts-webhooks/contacts_webhooks"])
        time.sleep(
            args.poll_interval
        )  # let the watcher set its first watermark (contacts before it are not new)
        client = sandbox.client()

        print(f"\npart 1: {args.contacts} contacts, {args.spacing:g} s apart", flush=True)
        created: dict[str, float] = {}
        for i in range(args.contacts):
            before = time.time()
            created[create(sandbox, client, i)] = before
            time.sleep(args.spacing)
        deadline = time.monotonic() + args.poll_interval * 2 + 120
        while time.monotonic() < deadline:
            found = consumed(connect)
            if all(c in found["bench_webhook"] and c in found["bench_poller"] for c in created):
                break
            time.sleep(0.5)
        found = consumed(connect)
        results: dict[str, list[float]] = {}
        for dag_id, label in (("bench_webhook", "webhook"), ("bench_poller", "poller")):
            latencies = [found[dag_id][c] - t for c, t in created.items() if c in found[dag_id]]
            results[label] = latencies
            missing = len(created) - len(latencies)
            if latencies:
                figure(f"{label}: median creation -> run queued (s)", statistics.median(latencies))
                figure(f"{label}: p95 (s)", percentile(latencies, 0.95))
                figure(f"{label}: max (s)", max(latencies))
            figure(f"{label}: contacts without a run", missing)
        part1 = sandbox.webhooks()
        figure("webhook: deliveries lost (no 2xx, no retry)", part1["lost"], f"answers {part1['statuses']}")
        events = recorded_at(connect)
        to_event = [events[c] - t for c, t in created.items() if c in events]
        if to_event:
            figure("webhook: median creation -> event recorded (s)", statistics.median(to_event))
            figure("webhook: p95 creation -> event recorded (s)", percentile(to_event, 0.95))
        web, poll = results["webhook"], results["poller"]
        if web and poll:
            figure("poller median / webhook median", statistics.median(poll) / statistics.median(web))
            figure("webhook p95 / poll interval", percentile(web, 0.95) / args.poll_interval)

        print(f"\npart 2: {args.burst} contacts at once", flush=True)
        before_ids = set(webhook_events(connect))
        t0 = time.monotonic()
        burst = [create(sandbox, client, 100_000 + i) for i in range(args.burst)]
        creating = time.monotonic() - t0
        wait_until(lambda: sandbox.webhooks()["pending"] == 0, 600, "the deliveries")
        delivered = time.monotonic() - t0
        ids = [i for i in webhook_events(connect) if i not in before_ids]
        lost = len(set(burst) - set(ids))
        twice = len(ids) - len(set(ids))
        stats = sandbox.webhooks()
        figure("contacts created (s)", creating, "the best: no event before its contact")
        figure("last event recorded (s)", delivered)
        figure("events recorded / deliveries", f"{len(set(ids) & set(burst))} / {args.burst}")
        figure("lost, recorded twice", f"{lost}, {twice}")
        figure("429s answered (retried)", stats["retries"])
        figure("recording time / creation time", delivered / creating)
        web_p95 = percentile(web, 0.95) if web else float("inf")
        passed = bool(web) and web_p95 < 5.0 and lost == 0 and twice == 0 and delivered < 60
        return (
            0
            if verdict(
                "webhooks",
                passed,
                f"webhook p95 {web_p95:.2f} s (goal < 5 s), poller p95 "
                f"{percentile(poll, 0.95) if poll else float('nan'):.1f} s; {args.burst} deliveries in {delivered:.1f} s "
                f"(goal < 60 s), {lost} lost, {twice} twice",
            )
            else 1
        )


if __name__ == "__main__":
    raise SystemExit(main())

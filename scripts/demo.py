"""
The demo behind ``make demo``: the example DAGs, run for real against a local sandbox of the Contacts API.

1. starts the sandbox (150 seeded contacts with tags, tasks and notes; the real API's 100-requests-per-10-s
   limit) in this process;
2. prepares a fresh Airflow home in ``.demo/airflow`` (SQLite, ``airflow db migrate``) and the environment:
   ``AIRFLOW_CONN_CONTACTS_DEFAULT`` from the sandbox (OAuth, rotated tokens kept in ``.demo/tokens.json``),
   ``AIRFLOW_CONN_CONTACTS_REPORTING`` and ``AIRFLOW_CONN_CONTACTS_SOURCE`` as SQLite files in ``.demo``;
3. runs ``contacts_dashboard`` once for a baseline, gives the phone system and the Contacts side some
   activity, runs ``contacts_sync`` for the 15-minute interval that holds it, then ``contacts_dashboard``
   again, each with ``airflow dags test`` in a subprocess (logs in ``.demo/logs``);
4. stops the sandbox (also when a step fails) and prints where the dashboard is and the figures, read back
   from the reporting tables the DAGs wrote.

Exits non-zero when a step fails. ``--docs-image`` also copies the chart to ``docs/dashboard.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / ".demo"
DAGS = REPO / "example_dags"
AIRFLOW_HOME = DEMO / "airflow"
LOGS = DEMO / "logs"
DASHBOARD = DEMO / "dashboard"
SEED = 150
STEP_ENV = {"AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}


class StepFailed(RuntimeError):
    """A step of the demo failed; the message says which and where its log is."""


def _sqlite_conn(path: Path) -> str:
    return json.dumps({"conn_type": "sqlite", "host": str(path)})


def prepare_environment() -> None:
    """Set the demo's environment in this process, before anything imports Airflow (subprocesses inherit it)."""
    settings = {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW_CONN_CONTACTS_REPORTING": _sqlite_conn(DEMO / "reporting.db"),
        "AIRFLOW_CONN_CONTACTS_SOURCE": _sqlite_conn(DEMO / "phone_system.db"),
        "CONTACTS_DEMO_DIR": str(DEMO),
        "CONTACTS_DASHBOARD_DIR": str(DASHBOARD),
        # This process only seeds and reads back, quietly; the DAG runs log in full to .demo/logs.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    os.environ.update(settings)


def connect_sandbox(connection: dict[str, Any]) -> None:
    """
    Point ``contacts_default`` at the sandbox, its rotated tokens in ``.demo/tokens.json`` (OS-locked, shared
    by this process and the Airflow subprocesses).

    :param connection: the sandbox's connection as a dict.
    """
    extra = {**connection["extra"], "token_file": str(DEMO / "tokens.json")}
    os.environ["AIRFLOW_CONN_CONTACTS_DEFAULT"] = json.dumps({**connection, "extra": extra})


def run_step(name: str, argv: list[str]) -> float:
    """
    Run one command in the demo's environment, its output to ``.demo/logs/<name>.log``; return its duration.

    :param name: the step's name.
    :param argv: the command.
    :raises StepFailed: the command exited non-zero.
    """
    log = LOGS / f"{name}.log"
    started = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run(
            argv, env={**os.environ, **STEP_ENV}, stdout=out, stderr=subprocess.STDOUT, check=False
        ).returncode
    took = time.monotonic() - started
    print(f"  {name:<22} {'ok' if code == 0 else 'FAILED':<7} {took:5.1f} s   log: {log.relative_to(REPO)}")
    if code != 0:
        tail = log.read_text().splitlines()[-15:]
        raise StepFailed(f"{name} exited with {code}; last lines of {log}:\n" + "\n".join(tail))
    return took


def airflow(*args: str) -> list[str]:
    """The ``airflow`` command of this virtual environment."""
    return [sys.executable, "-m", "airflow", *args]


def seed_activity() -> tuple[dict[str, int], datetime]:
    """Give the phone system and the Contacts side a day's changes (``phone_system.simulate_activity``)."""
    sys.path.insert(0, str(DAGS))
    from dag_support import phone_system

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    before = datetime.now(timezone.utc)
    done = phone_system.simulate_activity(phone_system.source_hook(), ContactsHook(), before)
    return done, before


def figures() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The metrics rows and the last audit row, read back from the reporting database."""
    from airflow_provider_contacts.hooks.sql import get_sql_hook
    from airflow_provider_contacts.reporting.tables import AUDIT_TABLE, METRICS_TABLE, read_rows

    sql = get_sql_hook("contacts_reporting")
    audit = read_rows(sql, AUDIT_TABLE, limit=1)
    return read_rows(sql, METRICS_TABLE), (audit[0] if audit else {})


def print_report(metrics: list[dict[str, Any]], audit: dict[str, Any], stats: dict[str, Any]) -> None:
    """
    Print the figures: the sync's audit row, the dashboard's metrics before and after, the sandbox's counts.

    :param metrics: the ``contacts_metrics`` rows, oldest first.
    :param audit: the sync's ``contacts_sync_audit`` row.
    :param stats: the sandbox's ``/_sandbox/stats``.
    """
    print("\nSync run (contacts_sync_audit):")
    for key in ("records_in", "created", "updated", "failed", "converted", "tasks_created", "pulled_back"):
        print(f"  {key:<16} {audit.get(key)}")
    print(f"  {'status':<16} {audit.get('status')}  (sync work {audit.get('duration_s')} s)")
    print("\nDashboard (contacts_metrics):")
    columns = (
        "contacts_total",
        "contacts_new",
        "contacts_updated",
        "tasks_open",
        "tasks_overdue",
        "tasks_completed",
        "api_requests",
    )
    labels = (
        ["before sync", "after sync"] if len(metrics) == 2 else [f"run {i + 1}" for i in range(len(metrics))]
    )
    print(f"  {'':<16}" + "".join(f"{label:>14}" for label in labels))
    for column in columns:
        print(f"  {column:<16}" + "".join(f"{row.get(column)!s:>14}" for row in metrics))
    tags = json.loads(metrics[-1]["top_tags"]) if metrics else {}
    print("  top tags        " + ", ".join(f"{tag} {count}" for tag, count in list(tags.items())[:6]))
    print(
        f"\nSandbox: {stats.get('total_requests')} API requests, {stats.get('rate_limited_429')} answered 429, "
        f"{stats.get('token_refreshes')} token refresh(es), peak {max(stats.get('peak_requests_in_window', {0: 0}).values())}"
        f" requests in a {stats.get('rate_interval')} s window (limit {stats.get('rate_limit')})"
    )


def check(metrics: list[dict[str, Any]], audit: dict[str, Any], all_contacts: int) -> None:
    """
    Fail unless the run produced what it should: a successful audited sync and two metrics rows.

    :param metrics: the ``contacts_metrics`` rows.
    :param audit: the sync's audit row.
    :param all_contacts: the sandbox's contact count at the end.
    """
    problems = []
    if audit.get("status") != "success":
        problems.append(f"sync audit status is {audit.get('status')!r}")
    if len(metrics) != 2:
        problems.append(f"{len(metrics)} metrics rows instead of 2")
    elif metrics[-1]["contacts_total"] != all_contacts:
        problems.append(
            f"dashboard counted {metrics[-1]['contacts_total']} contacts, the server has {all_contacts}"
        )
    for path in (DASHBOARD / "index.html", DASHBOARD / "dashboard.png"):
        if not path.is_file():
            problems.append(f"{path} is missing")
    if problems:
        raise StepFailed("; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    """
    Run the demo; return the exit code.

    :param argv: command-line arguments (``--docs-image``).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs-image", action="store_true", help="copy the chart to docs/dashboard.png")
    args = parser.parse_args(argv)
    started = time.monotonic()
    for path in (
        AIRFLOW_HOME,
        LOGS,
        DASHBOARD,
        DEMO / "reporting.db",
        DEMO / "phone_system.db",
        DEMO / "tokens.json",
    ):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    LOGS.mkdir(parents=True)
    prepare_environment()

    from airflow_provider_contacts.sandbox import running_sandbox

    print(f"Starting the sandbox ({SEED} seeded contacts, 100 requests per 10 s like the real API)...")
    try:
        with running_sandbox(seed=SEED, random_seed=7) as sb:
            print(f"  sandbox at {sb.base_url}, location {sb.location_id}")
            connect_sandbox(sb.connection)
            print("Running the example DAGs with `airflow dags test`:")
            run_step("db_migrate", airflow("db", "migrate"))
            run_step("dashboard_baseline", airflow("dags", "test", "contacts_dashboard"))
            done, before = seed_activity()
            print(
                f"  activity               phone system: {done['new_leads']} new leads, {done['converted']} "
                f"converted, {done['edited']} edited; Contacts side: {done['api_edited']} edited, "
                f"{done['api_created']} created"
            )
            now = datetime.now(timezone.utc)
            slot_end = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0) + timedelta(
                minutes=15
            )
            conf = json.dumps({"since": (before - timedelta(seconds=1)).isoformat()})
            run_step(
                "contacts_sync", airflow("dags", "test", "contacts_sync", slot_end.isoformat(), "-c", conf)
            )
            run_step("dashboard", airflow("dags", "test", "contacts_dashboard"))
            stats = sb.stats()
            all_contacts = len(sb.all_contacts())
        print("Sandbox stopped.")
        metrics, audit = figures()
        print_report(metrics, audit, stats)
        check(metrics, audit, all_contacts)
    except StepFailed as failure:
        print(f"\nDemo FAILED: {failure}", file=sys.stderr)
        return 1
    if args.docs_image:
        shutil.copyfile(DASHBOARD / "dashboard.png", REPO / "docs" / "dashboard.png")
        print("Copied the chart to docs/dashboard.png")
    print(f"\nDashboard: {DASHBOARD / 'index.html'}\n           {DASHBOARD / 'dashboard.png'}")
    print(f"Demo finished in {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

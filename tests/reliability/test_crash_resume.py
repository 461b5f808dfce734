"""Crash and resume: a sync killed with SIGKILL halfway, then retried, converges with no duplicates.

The sync (with a follow-up task per new contact) runs in a worker process; once the server holds about half
of the records, the worker is killed. The retry (try 2 of the same DAG run) must leave the same state as an
uninterrupted run: every record once, with its fields, and exactly one follow-up task per contact.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.sandbox import SandboxHandle
from tests.reliability._worker import FOLLOW_UP, wait_for
from tests.reliability.conftest import RUN_AFTER, emails_on_server, person, run_sync, worker

pytestmark = pytest.mark.integration

RECORDS = 600
DOMAIN = "crash.example"


def test_sync_killed_halfway_then_retried_converges(
    sandbox_factory: Callable[..., SandboxHandle], connect: Callable[..., Any], tmp_path: Path
) -> None:
    # 200 requests per second: the sync takes a few seconds, long enough to be caught halfway.
    sb = sandbox_factory(seed=0, rate_limit=100, rate_interval=0.5)
    connect(sb, requests_per_10s=100, rate_limit_window=0.5)
    records = [person(i, DOMAIN) for i in range(RECORDS)]
    source = tmp_path / "records.ndjson"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))

    crashed = worker(
        "sync",
        "--records",
        str(source),
        "--run-after",
        RUN_AFTER.isoformat(),
        "--out",
        str(tmp_path / "killed-report.json"),
    )
    try:
        wait_for(
            lambda: crashed.poll() is not None or sum(emails_on_server(sb, DOMAIN).values()) >= RECORDS // 2,
            timeout=240,
            what="half of the records on the server",
            poll=0.02,
        )
        assert crashed.poll() is None, crashed.communicate()[1].decode()[-3000:]
        crashed.send_signal(signal.SIGKILL)
        crashed.wait(timeout=30)
    finally:
        if crashed.poll() is None:
            crashed.kill()
            crashed.wait()
        crashed.communicate()
    assert crashed.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed-report.json").exists()  # it really died mid-run
    held_at_crash = sum(emails_on_server(sb, DOMAIN).values())
    assert RECORDS // 2 <= held_at_crash < RECORDS

    report, error = run_sync(
        str(source), try_number=2, task_template=FOLLOW_UP, batch_size=50, max_failed_ratio=0.0
    )

    assert error is None, error
    summary = report["summary"]
    assert summary["failed"] == 0, [e for e in report["records"] if e["status"] == "failed"][:5]
    # Requests the killed worker had in flight (4 workers) may still have landed after the count above.
    assert RECORDS - held_at_crash - 4 <= summary["created"] <= RECORDS - held_at_crash
    assert summary["created"] + summary["updated"] + summary["unchanged"] == RECORDS
    assert [e["index"] for e in report["records"]] == list(range(RECORDS))
    # Same state as one uninterrupted run: every record once, with its fields ...
    assert emails_on_server(sb, DOMAIN) == {r["email"]: 1 for r in records}
    contacts = {c["email"]: c for c in sb.all_contacts() if str(c.get("email") or "").endswith(DOMAIN)}
    for record in records:
        contact = contacts[record["email"]]
        assert (contact["firstName"], contact["lastName"], contact["phone"]) == (
            record["firstName"],
            record["lastName"],
            record["phone"],
        )
    # ... and exactly one follow-up task per contact.
    hook = ContactsHook()
    titles: Counter[int] = Counter()
    for record in records:
        tasks = hook.get_tasks(contacts[record["email"]]["id"])
        titles[len(tasks)] += 1
        assert [t["title"] for t in tasks] == [f"Welcome call: {record['firstName']}"], (record, tasks)
    assert titles == {1: RECORDS}

"""Fault soak: a sync of 2,000 records while 20 % of the API requests fail (429, 5xx, dropped, too slow).

Afterwards the server holds every good record exactly once, with its fields, and the report has one entry
per input record: the good ones created or updated with the server's contact id, the bad ones failed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.sandbox import SandboxHandle
from tests.reliability._worker import FOLLOW_UP
from tests.reliability.conftest import emails_on_server, person, run_sync

pytestmark = pytest.mark.integration

RECORDS = 2000
DOMAIN = "soak.example"
FAULT_RATE = 0.2
# Every 429 pauses the whole client for its Retry-After (1 s), so it is drawn less often than the others
# (the injector picks uniformly from this list): about 0.5 % of the requests, 19.5 % the other kinds.
FAULT_KINDS = ["500", "502", "503", "drop", "slow"] * 8 + ["429"]
BAD_EVERY = 100
TASK_CREATE = "POST /contacts/{contactId}/tasks"


def soak_records() -> tuple[list[dict[str, Any]], set[int]]:
    """2,000 records; every 100th is broken in one of several ways (20 bad ones)."""
    breakers: list[Callable[[dict[str, Any]], None]] = [
        lambda r: r.update(email="not-an-email"),
        lambda r: r.update(phone="12"),
        lambda r: r.update(firstName="x" * 300),
        lambda r: r.update(dateOfBirth="someday"),
    ]
    records, bad = [], set()
    for i in range(RECORDS):
        record = person(i, DOMAIN)
        if i % BAD_EVERY == BAD_EVERY // 2:
            breakers[len(bad) % len(breakers)](record)
            bad.add(i)
        records.append(record)
    return records, bad


def test_sync_under_twenty_percent_faults_loses_and_duplicates_nothing(
    sandbox_factory: Callable[..., SandboxHandle], connect: Callable[..., Any]
) -> None:
    sb = sandbox_factory(
        seed=0,
        rate_limit=5000,
        rate_interval=1.0,
        fault_rate=FAULT_RATE,
        fault_kinds=FAULT_KINDS,
        slow_ms=1000,
        random_seed=3,
    )
    # A "slow" answer outlasts the timeout, so it is a timeout for the client while the server still
    # applies the upsert: the retry must not make a second contact.
    connect(sb, max_retries=12, timeout=0.5, requests_per_10s=50_000, rate_limit_window=1.0)
    records, bad = soak_records()

    report, error = run_sync(records, max_workers=8, batch_size=100, max_failed_ratio=0.05)

    assert error is None, error
    stats = sb.stats()
    injected = stats["faults_injected"]
    assert set(injected) == {"429", "500", "502", "503", "drop", "slow"}, injected
    assert sum(injected.values()) >= 0.15 * stats["total_requests"] * 0.9
    # The report: exactly one entry per input record, in order, each with a final status.
    entries = report["records"]
    assert [e["index"] for e in entries] == list(range(RECORDS))
    summary = report["summary"]
    assert summary["total"] == RECORDS
    assert summary["created"] + summary["updated"] + summary["unchanged"] + summary["failed"] == RECORDS
    failed = {e["index"] for e in entries if e["status"] == "failed"}
    assert failed == bad, [e["error"] for e in entries if e["status"] == "failed" and e["index"] not in bad]
    assert summary["unchanged"] == 0
    # The server: every good record exactly once, with its fields; no bad one.
    on_server = {c["email"]: c for c in sb.all_contacts() if str(c.get("email") or "").endswith(DOMAIN)}
    assert emails_on_server(sb, DOMAIN) == {records[i]["email"]: 1 for i in range(RECORDS) if i not in bad}
    for entry in entries:
        if entry["index"] in bad:
            continue
        record = records[entry["index"]]
        contact = on_server[record["email"]]
        assert entry["contact_id"] == contact["id"], entry
        assert (contact["firstName"], contact["phone"]) == (record["firstName"], record["phone"])


def test_follow_up_tasks_under_faults_converge_on_retries_without_duplicates(
    sandbox_factory: Callable[..., SandboxHandle], connect: Callable[..., Any]
) -> None:
    # A task create that got a 5xx or a dropped answer may have been applied: the hook never re-sends it
    # blindly, and the sync re-sends it only after reading the contact's tasks. Faults can still fail a
    # record in a try (a fault on that read, or on every attempt); the next try looks the tasks up first.
    # Tries go on until one reports no failure; then every contact has exactly one follow-up task, though
    # some creates were applied and their answers dropped.
    sb = sandbox_factory(
        seed=0,
        rate_limit=5000,
        rate_interval=1.0,
        fault_rate=FAULT_RATE,
        fault_kinds=["500", "502", "503", "drop"],
        random_seed=4,
    )
    connect(sb, max_retries=12, requests_per_10s=50_000, rate_limit_window=1.0)
    records = [person(i, "tasks-soak.example") for i in range(300)]
    failed_per_try = []
    for try_number in range(1, 9):
        report, error = run_sync(
            records, try_number=try_number, task_template=FOLLOW_UP, max_failed_ratio=1.0
        )
        assert error is None, error
        assert [e["index"] for e in report["records"]] == list(range(len(records)))
        failed_per_try.append(report["summary"]["failed"])
        if not failed_per_try[-1]:
            break
    assert failed_per_try[-1] == 0, failed_per_try
    # The case under test happened: task creates were applied and their answers dropped, others failed with
    # a 5xx before being applied. (Whether a record then fails a whole try depends on which thread draws
    # which fault, so the tries' failure counts are not asserted.)
    task_faults = sb.stats()["faults_injected_by_route"].get(TASK_CREATE, {})
    assert task_faults.get("drop", 0) > 0 and sum(task_faults.values()) > task_faults["drop"], task_faults
    sb.set_faults(rate=0.0)
    assert emails_on_server(sb, "tasks-soak.example") == {r["email"]: 1 for r in records}
    hook = ContactsHook()
    by_email = {c["email"]: c["id"] for c in sb.all_contacts()}
    tasks_per_contact = Counter(len(hook.get_tasks(by_email[r["email"]])) for r in records)
    assert tasks_per_contact == {1: len(records)}

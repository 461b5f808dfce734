"""Metrics from a fake hook: counts from search totals, tags from one pass, tasks over a bounded set."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_contacts.hooks.search import iso_ms, range_filter
from airflow_provider_contacts.reporting.metrics import (
    ContactMetrics,
    compute_metrics,
    default_interval,
    top_tags_of,
)

from .conftest import T0, TASK_PAGE, FakeContactsHook

T1 = T0 + timedelta(hours=1)
NOW = T1 + timedelta(minutes=1)


def test_iso_ms_is_utc_with_milliseconds() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678_999, tzinfo=timezone(timedelta(hours=2)))
    assert iso_ms(moment) == "2026-01-02T01:04:05.678Z"
    assert range_filter("dateAdded", lt=T0) == {
        "field": "dateAdded",
        "operator": "range",
        "value": {"lt": "2026-11-22T12:00:00.000Z"},
    }


def test_counts_come_from_search_totals_not_scans(fake_hook: FakeContactsHook) -> None:
    metrics = compute_metrics(fake_hook, T0, T1, tag_scan_limit=0, now=NOW)
    assert (metrics.contacts_total, metrics.contacts_new, metrics.contacts_updated) == (6, 2, 2)
    counts = [body for kind, body in fake_hook.calls if kind == "count"]
    assert len(counts) == 3 and all(body["pageLimit"] == 1 for body in counts)
    assert [kind for kind, _ in fake_hook.calls if kind != "task_page"] == ["count"] * 3
    assert metrics.top_tags == {}


def test_tags_and_exact_task_counts_for_the_whole_location(fake_hook: FakeContactsHook) -> None:
    metrics = compute_metrics(fake_hook, T0, T1, top_n=2, now=NOW)
    assert metrics.top_tags == {"customer": 3, "lead": 2}
    assert metrics.tag_contacts_scanned == 6
    # Every task of the location, also those of contacts no recent search page would reach.
    assert (metrics.tasks_total, metrics.tasks_open, metrics.tasks_overdue, metrics.tasks_completed) == (
        4,
        3,
        2,
        1,
    )
    assert metrics.task_contacts_scanned == 6
    # 4 tasks in pages of 3: two task requests (4 // 3 + 1), never one per contact.
    assert [kind for kind, _ in fake_hook.calls].count("task_page") == 4 // TASK_PAGE + 1
    assert metrics.api_requests == len(fake_hook.calls) == 3 + 1 + 2


def test_task_filters_choose_the_contacts(fake_hook: FakeContactsHook) -> None:
    customers = [{"field": "tags", "operator": "eq", "value": "customer"}]
    metrics = compute_metrics(fake_hook, T0, T1, tag_scan_limit=0, task_filters=customers, now=NOW)
    searched = [ids for kind, ids in fake_hook.calls if kind == "task_page"]
    assert searched and all(sorted(ids) == ["new2", "old1", "old2"] for ids in searched)
    assert metrics.tasks_total == 2 and metrics.tag_contacts_scanned == 0
    assert metrics.task_contacts_scanned == 3


def test_task_contact_limit_bounds_the_filtered_contacts(fake_hook: FakeContactsHook) -> None:
    everyone = [{"field": "dateAdded", "operator": "range", "value": {"gte": "2000-01-01T00:00:00.000Z"}}]
    metrics = compute_metrics(fake_hook, T0, T1, task_contact_limit=4, task_filters=everyone, now=NOW)
    searched = next(ids for kind, ids in fake_hook.calls if kind == "task_page")
    assert sorted(searched) == ["late", "new2", "old1", "old2"]
    assert (metrics.tasks_total, metrics.tasks_overdue, metrics.task_contacts_scanned) == (2, 1, 4)


def test_row_and_json_forms(fake_hook: FakeContactsHook) -> None:
    last_sync = T1 - timedelta(minutes=5)
    metrics = compute_metrics(fake_hook, T0, T1, last_sync_at=last_sync, now=NOW)
    row = metrics.as_row(dag_id="d", run_id="r")
    assert row["dag_id"] == "d" and row["last_sync_at"] == last_sync
    assert json.loads(row["top_tags"])["customer"] == 3
    assert top_tags_of(row) == top_tags_of({"top_tags": metrics.top_tags})
    as_json = json.loads(json.dumps(metrics.to_json()))
    assert as_json["computed_at"] == NOW.isoformat()
    assert ContactMetrics.from_json(as_json) == metrics


def test_empty_interval_is_refused(fake_hook: FakeContactsHook) -> None:
    with pytest.raises(ValueError, match="Empty interval"):
        compute_metrics(fake_hook, T1, T0)
    assert fake_hook.calls == []


def test_default_interval_continues_from_the_previous_run() -> None:
    assert default_interval(T0, T1) == (T0, T1)
    assert default_interval(None, T1, timedelta(hours=2)) == (T1 - timedelta(hours=2), T1)
    assert default_interval(T1, T1, timedelta(days=1)) == (T1 - timedelta(days=1), T1)

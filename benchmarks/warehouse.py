"""Warehouse load: 100,000 contacts and their tasks into PostgreSQL, incremental, against a Meltano-style full scan.

Seeds a sandbox (in its own process) with ``--contacts`` contacts, creates a PostgreSQL database of its own
(dropped at the end; skipped when no server answers at 127.0.0.1:5432), then measures, in the same run:

1. ``ContactsToSqlOperator`` (contacts and tasks) over a window holding every contact: API requests against
   the minimum ``ceil(N / 500)`` searches plus ``ceil(T / 100)`` task pages, rows per second, and the growth
   of this process's resident memory while it runs (sampled every 20 ms; goal under 50 MB);
2. the same operator over the next window, in which nothing changed (goal: one request);
3. the way the Meltano tap does it: every contact through the deprecated ``GET /contacts/`` (100 a page),
   ``dateUpdated`` filtered on the client, the window's contacts merged into a table of their own: the same
   figures, for the first window and for the quiet one.

Figures are ratios against the best the API allows; the rate limit (100 per 10 s, ``--scale`` shortens the
window) and the sandbox's latency bound the wall time, not the client.

    .venv/bin/python benchmarks/warehouse.py [--contacts 100000] [--scale 1] [--latency-ms 150]
"""

from __future__ import annotations

import gc
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import _common as common

from tests.databases import Unreachable, postgres_database

GOAL_MB = 50.0
SEARCH_PAGE = 500
TASK_PAGE = 100
LIST_PAGE = 100
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


class PeakRss:
    """Samples this process's resident memory every 20 ms while a block runs; ``growth`` is peak - start."""

    def __init__(self) -> None:
        self.start = self.peak = 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, common.rss_mb()[0])

    @contextmanager
    def measure(self) -> Iterator[PeakRss]:
        """Sample while the block runs."""
        gc.collect()
        self.start = self.peak = common.rss_mb()[0]
        self._stop.clear()
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()

    @property
    def growth(self) -> float:
        """Peak minus start, MiB."""
        return self.peak - self.start


def measured(sb: Any, run: Callable[[], int]) -> dict[str, Any]:
    """Run one load; return its API requests by route, rows, seconds and memory growth."""
    sb.reset_stats()
    peak = PeakRss()
    with peak.measure():
        started = time.perf_counter()
        rows = run()
        seconds = time.perf_counter() - started
    stats = sb.stats()
    return {
        "requests": common.api_requests(stats),
        "by_route": {k: v for k, v in stats["requests_by_route"].items() if not k.startswith("POST /oauth")},
        "rows": rows,
        "seconds": seconds,
        "growth_mb": peak.growth,
    }


def operator_load(start: datetime, end: datetime) -> Callable[[], int]:
    """The transfer over one window (contacts and tasks)."""

    def run() -> int:
        from airflow_provider_contacts.transfers import ContactsToSqlOperator

        operator = ContactsToSqlOperator(
            task_id="bench",
            sql_conn_id="warehouse",
            table="crm_contacts",
            include=["tasks"],
            progress_interval=30,
        )
        report = operator.execute({"data_interval_start": start, "data_interval_end": end})  # type: ignore[arg-type]
        return sum(c["inserted"] + c["updated"] for c in report["merged"].values())

    return run


def meltano_load(start: datetime, end: datetime) -> Callable[[], int]:
    """Every contact through the deprecated list, filtered on ``dateUpdated`` here, merged in batches."""

    def run() -> int:
        from airflow_provider_contacts.engines.records import CustomFields, TableSpec, table_specs
        from airflow_provider_contacts.engines.sql import SqlMerger
        from airflow_provider_contacts.hooks.contacts import ContactsHook
        from airflow_provider_contacts.hooks.sql import get_sql_hook

        hook = ContactsHook()
        specs: dict[str, TableSpec] = table_specs(CustomFields("json", tuple(hook.get_custom_fields())), ())
        merger = SqlMerger(get_sql_hook("warehouse"), {"contacts": "meltano_contacts"})
        merger.prepare({"contacts": specs["contacts"]})
        loaded_at = datetime.now(timezone.utc)
        written, batch = 0, []
        try:
            for contact in hook.list_contacts(page_size=LIST_PAGE):
                updated = datetime.fromisoformat(str(contact["dateUpdated"]).replace("Z", "+00:00"))
                if start <= updated < end:
                    batch.append(specs["contacts"].to_row(contact, loaded_at))
                if len(batch) == SEARCH_PAGE:
                    counts = merger.merge("contacts", batch)
                    written += counts.inserted + counts.updated
                    batch = []
            counts = merger.merge("contacts", batch)
            written += counts.inserted + counts.updated
        finally:
            merger.close()
        return written

    return run


def report(name: str, figures: dict[str, Any], minimum: int) -> None:
    """Print one load's figures."""
    common.figure(
        f"{name}: API requests",
        figures["requests"],
        f"minimum {minimum:,}, ratio {figures['requests'] / max(minimum, 1):.2f}",
    )
    for route, count in sorted(figures["by_route"].items()):
        common.figure(f"    {route}", count)
    common.figure(f"{name}: rows written", figures["rows"])
    common.figure(f"{name}: seconds", figures["seconds"])
    common.figure(
        f"{name}: rows per second", figures["rows"] / figures["seconds"] if figures["seconds"] else 0.0
    )
    common.figure(f"{name}: peak memory growth (MiB)", figures["growth_mb"], f"goal < {GOAL_MB:g}")


def main(argv: list[str] | None = None) -> bool:
    """Run the benchmark; return whether it met its goals."""
    p = common.parser(__doc__)
    p.add_argument("--contacts", type=int, default=100_000)
    args = p.parse_args(argv)
    print(
        f"warehouse: {args.contacts:,} contacts into PostgreSQL, limit {common.API_LIMIT} per "
        f"{common.API_WINDOW / args.scale:g} s, latency {args.latency_ms:g} ms; machine: {common.machine()}",
        flush=True,
    )
    started = time.perf_counter()
    try:
        with postgres_database("contacts_bench") as target:
            return run(args, target, started)
    except Unreachable as error:
        print(f"SKIP: {error}", flush=True)
        return True


def run(args: Any, target: dict[str, Any], started: float) -> bool:
    """The measurements, with a scratch PostgreSQL database as the target."""
    with common.sandbox(args.scale, seed=args.contacts, latency_ms=args.latency_ms) as sb:
        print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
        common.use_sandbox(sb)
        os.environ["AIRFLOW_CONN_WAREHOUSE"] = json.dumps(target)
        from airflow_provider_contacts.hooks.contacts import ContactsHook
        from airflow_provider_contacts.hooks.search import count_contacts

        hook = ContactsHook()
        hook.auth.access_token()
        contacts = count_contacts(hook)
        tasks = sum(1 for _ in hook.search_location_tasks(page_limit=1000))
        first_end = datetime.now(timezone.utc) + timedelta(seconds=1)
        minimum = math.ceil(contacts / SEARCH_PAGE) + math.ceil(tasks / TASK_PAGE)
        print(f"  {contacts:,} contacts, {tasks:,} tasks; minimum {minimum:,} requests", flush=True)

        ours = measured(sb, operator_load(EPOCH, first_end))
        time.sleep(1.1)  # the quiet window must end after the first one
        quiet_end = datetime.now(timezone.utc)
        ours_quiet = measured(sb, operator_load(first_end, quiet_end))
        meltano = measured(sb, meltano_load(EPOCH, first_end))
        meltano_quiet = measured(sb, meltano_load(first_end, quiet_end))

    print("figures:", flush=True)
    report("transfer, first load", ours, minimum)
    report("transfer, quiet window", ours_quiet, 1)
    list_minimum = math.ceil(contacts / LIST_PAGE)
    report("meltano-style, first load", meltano, list_minimum)
    report("meltano-style, quiet window", meltano_quiet, list_minimum)
    common.figure("first load requests, meltano-style / transfer", meltano["requests"] / ours["requests"])
    common.figure(
        "quiet window requests, meltano-style / transfer", meltano_quiet["requests"] / ours_quiet["requests"]
    )
    expected_rows = contacts + tasks
    passed = (
        ours["rows"] == expected_rows
        and ours_quiet["requests"] == 1
        and ours_quiet["rows"] == 0
        and ours["growth_mb"] < GOAL_MB
        # Per run: the custom field definitions and one count; per batch: at most one short task page.
        and ours["requests"] <= 1.3 * minimum + 2
    )
    return common.verdict(
        "warehouse",
        passed,
        f"{ours['requests']:,} requests for {contacts:,} contacts + {tasks:,} tasks (minimum {minimum:,}); "
        f"{ours['rows'] / ours['seconds']:.0f} rows/s; memory +{ours['growth_mb']:.1f} MiB; quiet window "
        f"{ours_quiet['requests']} request(s) vs {meltano_quiet['requests']:,} for the full scan",
    )


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)

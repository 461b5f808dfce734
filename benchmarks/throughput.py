"""Bulk upsert throughput at the API's rate limit: hook, SyncContactsOperator and a naive loop.

Upserts ``--records`` contacts (default 2,000) into a sandbox with 150 ms latency and the real limit (100
requests per 10 s; ``--scale 10`` makes it 100 per 1 s) through ``ContactsHook.upsert_contacts`` and through
``SyncContactsOperator`` executed directly, then sends ``--naive-records`` upserts with a plain sequential
``requests`` loop (no limiter; a 429 is retried after sleeping ``Retry-After``) as the baseline. For each it
prints the requests per second achieved divided by the limit (goal >= 0.95), requests per record, the peak
requests in one rolling window and the 429s (from the sandbox's counters), and the records lost or duplicated
(from the server's state; goal 0).

    .venv/bin/python benchmarks/throughput.py [--records 2000] [--scale 1] [--latency-ms 150]
        [--workers N] [--naive-records 200]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import _common as common
import requests

GOAL_RATIO = 0.95


@dataclass
class Run:
    """The figures of one client's run."""

    client: str
    records: int
    seconds: float
    api_requests: int
    peak: int
    rejected_429: int
    lost: int
    duplicated: int

    def ratio(self, limit_per_s: float) -> float:
        """Requests per second achieved divided by the limit."""
        return self.api_requests / self.seconds / limit_per_s

    def print(self, limit_per_s: float, window_limit: int) -> None:
        """Print the run's figures."""
        print(f"{self.client}:", flush=True)
        common.figure("records", self.records)
        common.figure("wall time (s)", self.seconds)
        common.figure("API requests (sandbox count)", self.api_requests)
        common.figure("requests per record", self.api_requests / self.records)
        common.figure("requests per second", self.api_requests / self.seconds)
        common.figure("achieved / limit", self.ratio(limit_per_s), f"(goal >= {GOAL_RATIO})")
        common.figure("peak requests in one window", self.peak, f"(limit {window_limit})")
        common.figure("429 answers", self.rejected_429)
        common.figure("records lost / duplicated", f"{self.lost} / {self.duplicated}")


def measure(sb: Any, client: str, domain: str, count: int, job: Callable[[], None]) -> Run:
    """
    Run one job against a freshly reset sandbox and collect its figures.

    :param sb: the sandbox.
    :param client: the client's name, for the output.
    :param domain: the e-mail domain of the job's records.
    :param count: how many records the job sends.
    :param job: the job.
    """
    sb.reset_stats()
    start = time.perf_counter()
    job()
    seconds = time.perf_counter() - start
    stats = sb.stats()
    lost, duplicated = common.lost_and_duplicated(sb, domain, count)
    return Run(
        client=client,
        records=count,
        seconds=seconds,
        api_requests=common.api_requests(stats),
        peak=common.peak_in_window(stats),
        rejected_429=stats["rate_limited_429"],
        lost=lost,
        duplicated=duplicated,
    )


def hook_job(records: list[dict[str, Any]], workers: int) -> Callable[[], None]:
    """``ContactsHook.upsert_contacts`` over the records (the OAuth token is fetched before the clock starts)."""
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    hook = ContactsHook()
    hook.auth.access_token()

    def job() -> None:
        results = hook.upsert_contacts(records, max_workers=workers)
        failed = [r["error"] for r in results if not r["ok"]]
        if failed:
            print(f"  hook: {len(failed)} records failed, first: {failed[0]}", flush=True)

    return job


def operator_job(records: list[dict[str, Any]], workers: int) -> Callable[[], None]:
    """``SyncContactsOperator.execute`` over the records, with a minimal context."""
    from airflow_provider_contacts.operators import SyncContactsOperator

    operator = SyncContactsOperator(
        task_id="bench_sync", records=records, max_workers=workers, batch_size=100, progress_interval=3600
    )
    operator.hook.auth.access_token()

    def job() -> None:
        summary = operator.execute(common.operator_context())["summary"]
        print(
            f"  operator report: {summary['created']} created, {summary['updated']} updated, "
            f"{summary['unchanged']} unchanged, {summary['failed']} failed, {summary['api_calls']} API calls",
            flush=True,
        )

    return job


def naive_job(sb: Any, records: list[dict[str, Any]]) -> Callable[[], None]:
    """A plain sequential ``requests`` loop: one upsert after another, no limiter, 429 -> sleep Retry-After."""
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Bearer {sb.access_token()}",
            "Version": "2021-07-28",
            "Accept": "application/json",
        }
    )
    url = sb.base_url + "/contacts/upsert"

    def job() -> None:
        for record in records:
            while True:
                response = session.post(url, json={"locationId": sb.location_id, **record}, timeout=30)
                if response.status_code != 429:
                    response.raise_for_status()
                    break
                time.sleep(float(response.headers.get("Retry-After", "1")))

    return job


def main(argv: list[str] | None = None) -> bool:
    """Run the benchmark; return whether it met its goals."""
    p = common.parser(__doc__)
    p.add_argument("--records", type=int, default=2000)
    p.add_argument("--naive-records", type=int, default=200, help="records for the sequential baseline")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="hook/operator max_workers; 0 = enough to cover the latency at the limit (rate x latency x 1.5, >= 4)",
    )
    args = p.parse_args(argv)
    limit = common.limit_per_second(args.scale)
    window = common.API_WINDOW / args.scale
    workers = args.workers or max(4, math.ceil(limit * args.latency_ms / 1000 * 1.5))
    print(
        f"throughput: {args.records} upserts, limit {common.API_LIMIT} per {window:g} s ({limit:g}/s), "
        f"latency {args.latency_ms:g} ms, max_workers {workers}; naive baseline {args.naive_records} upserts",
        flush=True,
    )
    with common.sandbox(args.scale, latency_ms=args.latency_ms) as sb:
        common.use_sandbox(sb)
        runs = [
            measure(
                sb,
                "ContactsHook.upsert_contacts",
                "hook.bench",
                args.records,
                hook_job(common.people(args.records, "hook.bench"), workers),
            ),
            measure(
                sb,
                "SyncContactsOperator",
                "operator.bench",
                args.records,
                operator_job(common.people(args.records, "operator.bench"), workers),
            ),
            measure(
                sb,
                "naive sequential requests loop",
                "naive.bench",
                args.naive_records,
                naive_job(sb, common.people(args.naive_records, "naive.bench")),
            ),
        ]
    for run in runs:
        run.print(limit, common.API_LIMIT)
    hook, operator, naive = runs
    passed = all(
        r.ratio(limit) >= GOAL_RATIO and r.lost == 0 and r.duplicated == 0 and r.peak <= common.API_LIMIT
        for r in (hook, operator)
    )
    return common.verdict(
        "throughput",
        passed,
        f"hook {hook.ratio(limit):.3f}, operator {operator.ratio(limit):.3f} of the limit (goal >= {GOAL_RATIO}), "
        f"naive loop {naive.ratio(limit):.3f}; lost {hook.lost + operator.lost}, duplicated "
        f"{hook.duplicated + operator.duplicated}; peak {max(hook.peak, operator.peak)}/{common.API_LIMIT} per window",
    )


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)

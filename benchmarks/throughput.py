"""Bulk upsert at the API's rate limit as a user sees it: fastest time the limit allows / time taken.

Each run is what a task does: a fresh process-level transport, the OAuth token fetched inside the timed
run, then ``ContactsHook.upsert_contacts`` of ``--records`` new contacts (default 400 and 2,000) with
``max_workers`` 4, 8, 16, 32 and automatic (None), against the sandbox in its own process at 150 ms latency
and the real limit (100 requests per rolling 10 s). The fastest the limit allows for N requests is
``floor((N - 1) / 100)`` windows plus one latency (30.15 s for 400): the figure is that divided by the time
taken, so a short burst can never push it above 1. Also the bound ``max_workers`` itself sets (each worker
sends one request per latency), so a case the workers cannot cover is told apart from a slow limiter.

Then the multi-process case: ``--processes`` (4) processes upsert ``--records-per-process`` (400) each into
one location at once, without and with ``rate_limit_backend`` (Redis; skipped, said so, when unreachable):
429s from the sandbox, failed records, and the aggregate (fastest allowed for all their requests / the
time from the first start to the last end).

    .venv/bin/python benchmarks/throughput.py [--records 400,2000] [--workers 4,8,16,32,auto]
        [--processes 4] [--records-per-process 400] [--redis redis://127.0.0.1:6379/0] [--scale 1]
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import _common as common

GOAL_RATIO = 0.95


def fastest_allowed(requests: int, window: float, latency: float, limit: int = common.API_LIMIT) -> float:
    """
    The shortest time the rolling window allows for ``requests`` requests: a full burst at once, then
    the next burst a window later, and the last answer a latency after its request.

    :param requests: how many.
    :param window: the window in seconds.
    :param latency: the server's latency in seconds.
    :param limit: requests per window.
    """
    return math.floor((requests - 1) / limit) * window + latency


def workers_bound(
    requests: int, workers: int, window: float, latency: float, limit: int = common.API_LIMIT
) -> float:
    """
    The shortest time ``workers`` concurrent requests allow under the window: the last burst's requests
    go ``workers`` per latency, after the windows before it.

    :param requests: how many.
    :param workers: requests in flight at most.
    :param window: the window in seconds.
    :param latency: the server's latency in seconds.
    :param limit: requests per window.
    """
    burst = min(requests, limit)
    return math.floor((requests - 1) / limit) * window + math.ceil(burst / workers) * latency


@dataclass
class Run:
    """The figures of one run."""

    case: str
    records: int
    seconds: float
    api_requests: int
    rejected_429: int
    failed: int
    lost: int
    duplicated: int
    best: float
    bound: float

    @property
    def ratio(self) -> float:
        """Fastest allowed / time taken."""
        return self.best / self.seconds

    @property
    def covered(self) -> bool:
        """Whether the workers can reach the limit's fastest time within the goal."""
        return self.best / self.bound >= GOAL_RATIO

    def row(self) -> str:
        """One line of the table."""
        cover = "yes" if self.covered else f"no (bound {self.best / self.bound:.2f})"
        return (
            f"  {self.case:<26} {self.records:>6} {self.seconds:>9.2f} {self.best:>8.2f} {self.ratio:>7.3f} "
            f"{self.rejected_429:>5} {self.failed:>6} {self.lost:>4}/{self.duplicated:<4} {cover}"
        )


def one_run(sb: Any, records: int, workers: int | None, window: float, latency: float) -> Run:
    """
    Upsert ``records`` new contacts the way a task does, and measure it.

    :param sb: the sandbox.
    :param records: how many.
    :param workers: ``max_workers`` (None: automatic).
    :param window: the window in seconds.
    :param latency: the sandbox's latency in seconds.
    """
    from airflow_provider_contacts.hooks.contacts import ContactsHook
    from airflow_provider_contacts.transport import clear_transports

    domain = f"w{workers or 'auto'}-{records}-{uuid.uuid4().hex[:6]}.bench"
    data = common.people(records, domain)
    common.use_sandbox(sb)  # a fresh refresh token and token file: the run fetches its own access token
    clear_transports()
    sb.reset_stats()  # also empties the server's rate window
    start = time.perf_counter()
    results = ContactsHook().upsert_contacts(data, max_workers=workers)
    seconds = time.perf_counter() - start
    stats = sb.stats()
    lost, duplicated = common.lost_and_duplicated(sb, domain, records)
    served = common.api_requests(stats)
    return Run(
        case=f"max_workers={workers or 'auto'}",
        records=records,
        seconds=seconds,
        api_requests=served,
        rejected_429=stats["rate_limited_429"],
        failed=sum(1 for r in results if not r["ok"]),
        lost=lost,
        duplicated=duplicated,
        best=fastest_allowed(served, window, latency),
        bound=workers_bound(served, workers or 64, window, latency),
    )


def child(domain: str, records: int) -> None:
    """One of the concurrent processes: upsert and print its figures as JSON."""
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    start = time.time()
    results = ContactsHook().upsert_contacts(common.people(records, domain), max_workers=None)
    print(
        json.dumps({"start": start, "end": time.time(), "failed": sum(1 for r in results if not r["ok"])}),
        flush=True,
    )


def multi_process(
    sb: Any, processes: int, records: int, window: float, latency: float, redis: str | None
) -> Run:
    """
    ``processes`` processes upsert into one location at once.

    :param sb: the sandbox.
    :param processes: how many processes.
    :param records: records per process.
    :param window: the window in seconds.
    :param latency: the sandbox's latency in seconds.
    :param redis: the ``rate_limit_backend`` to share, or None for each process's own limiter.
    """
    extra = (
        {"rate_limit_backend": redis, "rate_limit_key_prefix": f"bench-{uuid.uuid4().hex}"} if redis else {}
    )
    common.use_sandbox(sb, **extra)  # one connection and token file for all: one refresh among them
    sb.reset_stats()
    tag = uuid.uuid4().hex[:6]
    domains = [f"p{i}-{tag}.bench" for i in range(processes)]
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", domain, str(records)],
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for domain in domains
    ]
    outputs = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=1800)
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stats = sb.stats()
    served = common.api_requests(stats)
    seconds = max(o["end"] for o in outputs) - min(o["start"] for o in outputs)
    lost = duplicated = 0
    for domain in domains:
        lo, du = common.lost_and_duplicated(sb, domain, records)
        lost, duplicated = lost + lo, duplicated + du
    return Run(
        case=f"{processes} processes, {'Redis backend' if redis else 'own limiters'}",
        records=processes * records,
        seconds=seconds,
        api_requests=served,
        rejected_429=stats["rate_limited_429"],
        failed=sum(o["failed"] for o in outputs),
        lost=lost,
        duplicated=duplicated,
        best=fastest_allowed(served, window, latency),
        bound=fastest_allowed(served, window, latency),
    )


def redis_reachable(url: str) -> bool:
    """Whether the Redis server answers."""
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def main(argv: list[str] | None = None) -> bool:
    """Run the benchmark; return whether it met its goals."""
    p = common.parser(__doc__)
    p.add_argument("--records", default="400,2000", help="comma-separated record counts")
    p.add_argument("--workers", default="4,8,16,32,auto", help="comma-separated max_workers ('auto' = None)")
    p.add_argument("--processes", type=int, default=4)
    p.add_argument("--records-per-process", type=int, default=400)
    p.add_argument("--redis", default=os.environ.get("CONTACTS_BENCH_REDIS", "redis://127.0.0.1:6379/0"))
    p.add_argument("--child", nargs=2, metavar=("DOMAIN", "RECORDS"), help=argparse_suppress())
    args = p.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return True
    window = common.API_WINDOW / args.scale
    latency = args.latency_ms / 1000
    counts = [int(n) for n in args.records.split(",") if n]
    workers = [None if w == "auto" else int(w) for w in args.workers.split(",") if w]
    print(
        f"throughput: limit {common.API_LIMIT} per {window:g} s, latency {args.latency_ms:g} ms, token fetched "
        f"inside each timed run; {common.machine()}; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    print(
        f"  {'case':<26} {'records':>6} {'time (s)':>9} {'fastest':>8} {'ratio':>7} {'429s':>5} "
        f"{'failed':>6} lost/dup  workers cover the latency",
        flush=True,
    )
    runs: list[Run] = []
    multi: list[Run] = []
    with common.sandbox(args.scale, latency_ms=args.latency_ms) as sb:
        for count in counts:
            for w in workers:
                runs.append(one_run(sb, count, w, window, latency))
                print(runs[-1].row(), flush=True)
        if args.processes:
            multi.append(multi_process(sb, args.processes, args.records_per_process, window, latency, None))
            print(multi[-1].row(), flush=True)
            if redis_reachable(args.redis):
                multi.append(
                    multi_process(sb, args.processes, args.records_per_process, window, latency, args.redis)
                )
                print(multi[-1].row(), flush=True)
            else:
                print(
                    f"  (Redis at {args.redis} unreachable: the rate_limit_backend case was skipped)",
                    flush=True,
                )
    print(f"  load average after: {os.getloadavg()[0]:.2f}", flush=True)
    single_ok = all(
        r.failed == r.lost == r.duplicated == 0
        and (not r.covered or (r.ratio >= GOAL_RATIO and r.rejected_429 == 0))
        for r in runs
    )
    shared = [r for r in multi if "Redis" in r.case]
    own = [r for r in multi if "Redis" not in r.case]
    multi_ok = all(r.failed == r.lost == 0 for r in own) and all(
        r.rejected_429 == 0 and r.ratio >= GOAL_RATIO and r.failed == r.lost == 0 for r in shared
    )
    worst = min((r.ratio for r in runs if r.covered), default=float("nan"))
    return common.verdict(
        "throughput",
        single_ok and multi_ok,
        f"worst covered ratio {worst:.3f} (goal >= {GOAL_RATIO}, zero 429s); "
        + "; ".join(
            f"{r.case}: ratio {r.ratio:.3f}, {r.rejected_429} 429s, {r.failed} failed" for r in multi
        ),
    )


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)

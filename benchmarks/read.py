"""Streaming read: every contact of a 100,000-contact location through ``search_contacts``, counted, not kept.

Seeds a sandbox (in its own process) with ``--contacts`` contacts (default 100,000; the seeding time is
printed), then pages through all of them with ``ContactsHook.search_contacts(page_limit=500)`` (``searchAfter``
beyond the first 10,000 rows). Prints the request count against the minimum ``ceil(N / 500)``, the wall time
against the floors set by the rate limit and by the latency, and the growth of this process's resident
memory over its baseline (``VmHWM`` - ``VmRSS`` before the read, from /proc; goal: flat, under 50 MB).
``--tracemalloc`` adds Python's own allocation peak (slower).

    .venv/bin/python benchmarks/read.py [--contacts 100000] [--scale 1] [--latency-ms 150] [--tracemalloc]
"""

from __future__ import annotations

import gc
import math
import time
import tracemalloc

import _common as common

PAGE = 500
GOAL_MB = 50.0


def main(argv: list[str] | None = None) -> bool:
    """Run the benchmark; return whether it met its goals."""
    p = common.parser(__doc__)
    p.add_argument("--contacts", type=int, default=100_000)
    p.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    args = p.parse_args(argv)
    limit = common.limit_per_second(args.scale)
    print(
        f"read: {args.contacts:,} contacts, pages of {PAGE}, limit {common.API_LIMIT} per "
        f"{common.API_WINDOW / args.scale:g} s, latency {args.latency_ms:g} ms",
        flush=True,
    )
    started = time.perf_counter()
    with common.sandbox(args.scale, seed=args.contacts, latency_ms=args.latency_ms) as sb:
        seeding = time.perf_counter() - started
        common.use_sandbox(sb)
        from airflow_provider_contacts.hooks.contacts import ContactsHook

        hook = ContactsHook()
        hook.auth.access_token()
        sb.reset_stats()
        gc.collect()
        baseline_rss, _ = common.rss_mb()
        if args.tracemalloc:
            tracemalloc.start()
        samples: list[float] = []
        step = max(1, args.contacts // 10)
        count = 0
        ids_seen = 0
        start = time.perf_counter()
        for contact in hook.search_contacts(page_limit=PAGE):
            count += 1
            ids_seen += bool(contact.get("id"))
            if count % step == 0:
                samples.append(common.rss_mb()[0] - baseline_rss)
        seconds = time.perf_counter() - start
        traced_peak = tracemalloc.get_traced_memory()[1] / 1024**2 if args.tracemalloc else None
        if args.tracemalloc:
            tracemalloc.stop()
        _, peak_rss = common.rss_mb()
        stats = sb.stats()
    requests = common.api_requests(stats)
    minimum = math.ceil(args.contacts / PAGE)
    growth = peak_rss - baseline_rss
    common.figure("seeding time (s, server start included)", seeding)
    common.figure("contacts counted", count, f"(expected {args.contacts:,}; {ids_seen:,} with an id)")
    common.figure("search requests", requests, f"(minimum ceil(N/{PAGE}) = {minimum})")
    common.figure("wall time (s)", seconds)
    common.figure("contacts per second", count / seconds)
    common.figure("floor set by the rate limit (s)", max(0, minimum - common.API_LIMIT) / limit)
    common.figure("floor set by the latency, sequential (s)", minimum * args.latency_ms / 1000)
    common.figure("429 answers", stats["rate_limited_429"])
    common.figure("RSS baseline (MiB)", baseline_rss)
    common.figure("peak RSS growth (MiB)", growth, f"(goal < {GOAL_MB:g})")
    common.figure("RSS growth at each 10 % (MiB)", " ".join(f"{s:.1f}" for s in samples))
    if traced_peak is not None:
        common.figure("tracemalloc peak (MiB)", traced_peak)
    passed = count == args.contacts and requests == minimum and growth < GOAL_MB
    return common.verdict(
        "read",
        passed,
        f"{count:,}/{args.contacts:,} contacts in {requests} requests (minimum {minimum}), {seconds:.1f} s, "
        f"peak RSS growth {growth:.1f} MiB (goal < {GOAL_MB:g})",
    )


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)

"""Client CPU overhead of the hook: ``get_contact`` vs a raw ``requests.Session`` on loopback.

Sends ``--requests`` GETs (default 5,000) of ``/contacts/{id}`` to a sandbox in its own process with no
latency and a rate limit that never bites, once through ``ContactsHook.get_contact`` and once through a bare
``requests.Session`` with the same headers that decodes the same JSON, and compares this process's CPU time
(``time.process_time()``; the server's CPU is not in it). Goal: hook / raw at most 1.2. When the goal is missed
(or with ``--profile``) the hook's loop is profiled with cProfile and the time is broken down by where it goes.

    .venv/bin/python benchmarks/overhead.py [--requests 5000] [--rounds 3] [--profile]
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import _common as common
import requests

GOAL = 1.2
HUGE = 10**9
#: Where a profiled function's own time is counted: the first matching fragment of its file path.
AREAS = (
    ("tenacity", "tenacity (Retrying object, retry state, wait/stop per call)"),
    ("transport/limiter", "RollingWindowLimiter (acquire, update_from_headers)"),
    ("airflow_provider_contacts/auth", "token provider (access_token, expiry check)"),
    ("hooks/contacts", "ContactsHook request path (request, _attempt, _Call, headers)"),
    ("requests/", "requests (Session.request, prepare, merge settings)"),
    ("urllib3/", "urllib3 (connection pool, HTTP response)"),
    ("http/client", "http.client"),
    ("json/", "json"),
    ("logging", "logging"),
    ("socket", "socket"),
)


def area_of(filename: str) -> str:
    """
    The area a profiled file belongs to.

    :param filename: the function's file.
    """
    for fragment, area in AREAS:
        if fragment in filename:
            return area
    return "other (built-ins, threading, ...)"


def cpu_of(loop: Callable[[], None]) -> float:
    """
    CPU seconds of this process spent in ``loop``.

    :param loop: the work.
    """
    start = time.process_time()
    loop()
    return time.process_time() - start


def profile(loop: Callable[[], None], top: int = 25) -> None:
    """
    Profile ``loop`` and print its own time by area and the costliest functions.

    :param loop: the work.
    :param top: how many functions to list.
    """
    profiler = cProfile.Profile()
    profiler.runcall(loop)
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    by_area: dict[str, float] = defaultdict(float)
    for (filename, _, _), entry in raw.items():
        by_area[area_of(filename)] += entry[2]
    print("profile of the hook loop (own time by area):", flush=True)
    for area, seconds in sorted(by_area.items(), key=lambda item: -item[1]):
        print(f"  {seconds / total:6.1%}  {area}")
    print(f"top {top} functions by own time:")
    rows = sorted(raw.items(), key=lambda item: -item[1][2])[:top]
    for (filename, line, name), entry in rows:
        short = filename.split("site-packages/")[-1].split("airflow_provider_contacts/")[-1]
        print(f"  {entry[2] / total:6.1%}  {entry[1]:>7} calls  {name}  ({short}:{line})")


def main(argv: list[str] | None = None) -> bool:
    """Run the benchmark; return whether it met its goal."""
    p = common.parser(__doc__)
    p.set_defaults(latency_ms=0.0)
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=3, help="alternate hook and raw runs; the medians count")
    p.add_argument("--profile", action="store_true", help="profile the hook even when it meets the goal")
    args = p.parse_args(argv)
    print(
        f"overhead: {args.requests:,} GETs per client, loopback, latency {args.latency_ms:g} ms", flush=True
    )
    with common.sandbox(seed=200, latency_ms=args.latency_ms, rate_limit=HUGE, rate_interval=1.0) as sb:
        common.use_sandbox(sb, requests_per_10s=HUGE, rate_limit_window=1.0)
        from airflow_provider_contacts.hooks.contacts import ContactsHook

        ids = [c["id"] for c in sb.all_contacts()]
        hook = ContactsHook()
        session = requests.Session()
        session.headers.update(
            {
                "Authorization": f"Bearer {hook.auth.access_token()}",
                "Version": "2021-07-28",
                "Accept": "application/json",
            }
        )
        base = sb.base_url

        def hook_loop(count: int = args.requests) -> None:
            for i in range(count):
                hook.get_contact(ids[i % len(ids)])

        def raw_loop(count: int = args.requests) -> None:
            for i in range(count):
                response = session.get(f"{base}/contacts/{ids[i % len(ids)]}", timeout=30)
                response.raise_for_status()
                response.json()["contact"]  # decoded like the hook does

        hook_loop(200)  # warm both: connections, imports, caches
        raw_loop(200)
        hook_cpu: list[float] = []
        raw_cpu: list[float] = []
        wall = {"hook": 0.0, "raw": 0.0}
        for _ in range(args.rounds):
            for name, loop, into in (("hook", hook_loop, hook_cpu), ("raw", raw_loop, raw_cpu)):
                start = time.perf_counter()
                into.append(cpu_of(loop))
                wall[name] += time.perf_counter() - start
        hook_cpu.sort()
        raw_cpu.sort()
        hook_median, raw_median = hook_cpu[len(hook_cpu) // 2], raw_cpu[len(raw_cpu) // 2]
        ratio = hook_median / raw_median
        per = 1e6 / args.requests
        common.figure("hook CPU per run (s), median", hook_median, f"({hook_median * per:.0f} us per call)")
        common.figure(
            "raw requests CPU per run (s), median", raw_median, f"({raw_median * per:.0f} us per call)"
        )
        common.figure("hook CPU - raw CPU per call (us)", (hook_median - raw_median) * per)
        common.figure("CPU ratio hook / raw", ratio, f"(goal <= {GOAL})")
        common.figure("wall seconds hook / raw (all rounds)", f"{wall['hook']:.2f} / {wall['raw']:.2f}")
        common.figure("hook runs (s)", " ".join(f"{c:.3f}" for c in hook_cpu))
        common.figure("raw runs (s)", " ".join(f"{c:.3f}" for c in raw_cpu))
        if ratio > GOAL or args.profile:
            profile(lambda: hook_loop(min(args.requests, 2000)))
    return common.verdict(
        "overhead",
        ratio <= GOAL,
        f"hook uses {ratio:.2f}x the CPU of a raw requests.Session per GET (goal <= {GOAL}); "
        f"{(hook_median - raw_median) * per:.0f} us extra per call",
    )


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)

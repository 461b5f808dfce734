"""Issue 25's script as it was filed: warm agency locations in one process, traced request by request.

The sandbox runs in its own process with its defaults (the real 100 requests per rolling 10 s per location) at
150 ms latency. One agency connection, one ``ContactsHook(conn_id, location_id=loc)`` per location in this
process; first one search per location (it mints the location's token through the company's), then a pause,
then ``upsert_contacts`` of ``--records`` new contacts per location, each location in its own thread. Unlike
``agency.py`` nothing is reset between the search and the upserts and no token is fetched beforehand: the
search does all of it, as a task that searches before it writes.

``--store``: ``memory`` (a ``MemoryTokenStore`` handed to every hook, as the integration tests build them) or
``variable`` (the connection names no token file, so the hook keeps its tokens in its Airflow Variables, the
default of a DAG's connection).

Per location it prints the time, the time ratio against the fastest the limit allows (the search counted from
when it was sent), the requests each route sent for it, the ``X-RateLimit-Remaining`` of the first upsert
answer, the limiter's state at the end (foreign requests booked from the headers, its limit and window) and
the largest gap between two consecutive upsert answers (the wait at a window's boundary: about 9.5 s; a lost
window makes it a window longer); then the sandbox's counters: requests per route, peaks per location, 429s,
location tokens minted.

    .venv/bin/python benchmarks/agency_warm.py [--locations 1] [--records 300] [--pause 10.5] [--runs 5]
        [--workers auto] [--store memory|variable]
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import _common as common
from agency import fastest_allowed


def _trace(hook: Any, log: list[tuple[float, str, int, str | None]]) -> None:
    """Record every answer of the hook's session: when it came, its route, status and remaining budget."""

    def on_answer(response: Any, *args: Any, **kwargs: Any) -> None:
        route = f"{response.request.method} {response.request.path_url.split('?')[0]}"
        log.append(
            (time.monotonic(), route, response.status_code, response.headers.get("X-RateLimit-Remaining"))
        )

    hook.get_conn().hooks["response"].append(on_answer)


def run(sb: Any, args: Any, latency: float) -> bool:
    """One run of the script; print what it measured and return whether no location lost a window."""
    from airflow_provider_contacts.auth import MemoryTokenStore
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    conn = sb.agency_connection()
    conn_id = f"contacts_warm_{uuid.uuid4().hex[:8]}"
    if args.store == "variable":
        conn["extra"]["token_variable"] = f"{conn_id}_token"
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    store = MemoryTokenStore() if args.store == "memory" else None
    locations = list(sb.installed_location_ids[: args.locations])
    tag = uuid.uuid4().hex[:6]
    workers = None if args.workers == "auto" else int(args.workers)
    sb.reset_stats()
    figures: dict[str, dict[str, Any]] = {}

    def work(location: str) -> None:
        hook = ContactsHook(conn_id, location_id=location, token_store=store)
        log: list[tuple[float, str, int, str | None]] = []
        _trace(hook, log)
        searched_at = time.monotonic()
        next(iter(hook.search_contacts(page_limit=1)), None)
        time.sleep(args.pause)
        limiter = hook.limiter
        before_upserts = len(log)
        start = time.monotonic()
        results = hook.upsert_contacts(
            common.people(args.records, f"{location[-4:].lower()}-{tag}.bench"), workers
        )
        end = time.monotonic()
        upserts = [at for at, route, _, _ in log[before_upserts:] if route.startswith("POST")]
        gaps = [b - a for a, b in itertools.pairwise(upserts)]
        figures[location] = {
            "seconds": end - start,
            "fastest": fastest_allowed(
                args.records, common.API_WINDOW, latency, before=[searched_at - start]
            ),
            "failed": sum(1 for r in results if not r["ok"]),
            "routes": dict(Counter(route for _, route, _, _ in log)),
            "statuses": dict(Counter(status for _, _, status, _ in log)),
            "first_remaining": next(
                (rem for _, r, _, rem in log[before_upserts:] if r.startswith("POST")), None
            ),
            "foreign": len(limiter._foreign),
            "limit": limiter.limit,
            "window": limiter.window,
            "gap": max(gaps, default=0.0),
            "gap_at": upserts[gaps.index(max(gaps))] - start if gaps else 0.0,
            "workers": hook.transport.concurrency(64),
        }

    with ThreadPoolExecutor(len(locations)) as pool:
        list(pool.map(work, locations))
    stats = sb.stats()
    ok = True
    for location in locations:
        f = figures[location]
        lost = f["seconds"] - f["fastest"] >= 0.9 * common.API_WINDOW
        ok &= not lost
        print(
            f"  {location:<22} {f['seconds']:6.2f} s fastest {f['fastest']:5.2f} ratio {f['fastest'] / f['seconds']:.3f}"
            f"{'  LOST WINDOW' if lost else ''}; auto workers {f['workers']}, first upsert's remaining "
            f"{f['first_remaining']}, foreign booked {f['foreign']}, limit {f['limit']}/{f['window']:g}s, "
            f"largest gap {f['gap']:.2f} s at {f['gap_at']:.2f} s, failed {f['failed']}, "
            f"client routes {json.dumps(f['routes'])} statuses {json.dumps(f['statuses'])}",
            flush=True,
        )
    peaks = {key.split("/", 1)[1]: n for key, n in stats["peak_requests_in_window"].items()}
    print(
        f"  sandbox: 429s {stats['rate_limited_429']}, peaks {json.dumps(peaks)}, tokens minted "
        f"{json.dumps(stats['location_tokens_minted'])}, routes {json.dumps(stats['requests_by_route'])}",
        flush=True,
    )
    return ok and stats["rate_limited_429"] == 0


def main(argv: list[str] | None = None) -> bool:
    """Run the script ``--runs`` times; return whether no run lost a window or drew a 429."""
    p = common.parser(__doc__)
    p.add_argument("--locations", type=int, default=1)
    p.add_argument("--records", type=int, default=300)
    p.add_argument("--pause", type=float, default=10.5)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--workers", default="auto", help="max_workers: 'auto' (None) or a number")
    p.add_argument("--store", choices=("memory", "variable"), default="memory")
    args = p.parse_args(argv)
    if args.store == "variable":
        from airflow.utils.db import initdb

        initdb()
    print(
        f"agency_warm: {args.locations} location(s) x {args.records}, pause {args.pause:g} s, workers "
        f"{args.workers}, store {args.store}; {common.machine()}",
        flush=True,
    )
    passed = True
    from airflow_provider_contacts.sandbox import running_sandbox

    with running_sandbox(subprocess_mode=True, locations=args.locations, latency_ms=args.latency_ms) as sb:
        for index in range(args.runs):
            print(f" run {index + 1}", flush=True)
            passed &= run(sb, args, args.latency_ms / 1000)
    return common.verdict("agency_warm", passed, f"{args.runs} runs, no lost window and no 429: {passed}")


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)

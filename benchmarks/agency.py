"""Agency: every location at its own full rate budget at once, through one agency connection.

One agency connection (a company OAuth chain) upserts ``--records`` (1,000) new contacts into each of
``--locations`` (10) locations at the same time, one ``ContactsHook(location_id=...)`` per location in its own
thread (``max_workers`` automatic), against the sandbox in its own process at 150 ms latency and the real
limit (100 requests per rolling 10 s per app and location). Everything a task does is inside the clock: the
company token, each location's token minted on first use. Figures:

- aggregate rate / (locations x the per-location limit): requests served per second by all locations
  together over the best the API allows them (goal >= 0.9);
- per location, fastest time the limit allows / time taken (a short burst cannot push it above 1);
- the most requests any location had in one rolling window, from the sandbox's own counter (goal <= 100);
- 429s, failed records, lost and duplicated contacts per location (goal: none lost), location tokens minted.

    .venv/bin/python benchmarks/agency.py [--locations 10] [--records 1000] [--scale 1] [--latency-ms 150]
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _common as common

GOAL_RATIO = 0.9
CONN_ID = "contacts_bench_agency"


def fastest_allowed(requests: int, window: float, latency: float) -> float:
    """
    The shortest time one location's rolling window allows for ``requests`` requests.

    :param requests: how many.
    :param window: the window in seconds.
    :param latency: the server's latency in seconds.
    """
    return math.floor((requests - 1) / common.API_LIMIT) * window + latency


def lost_and_duplicated(sb: Any, location: str, domain: str, expected: int) -> tuple[int, int]:
    """
    Records of one location's run missing from the server, and extra copies.

    :param sb: the sandbox.
    :param location: the location.
    :param domain: the run's e-mail domain.
    :param expected: how many records it sent.
    """
    counts: dict[str, int] = {}
    for contact in sb.all_contacts(location):
        email = str(contact.get("email") or "")
        if email.endswith("@" + domain):
            counts[email] = counts.get(email, 0) + 1
    lost = sum(1 for i in range(expected) if f"person.{i}@{domain}" not in counts)
    return lost, sum(n - 1 for n in counts.values() if n > 1)


def main(argv: list[str] | None = None) -> bool:
    """Run the benchmark; return whether it met its goals."""
    p = common.parser(__doc__)
    p.add_argument("--locations", type=int, default=10)
    p.add_argument("--records", type=int, default=1000, help="new contacts per location")
    args = p.parse_args(argv)
    window = common.API_WINDOW / args.scale
    latency = args.latency_ms / 1000
    per_location_rate = common.API_LIMIT / window
    print(
        f"agency: {args.locations} locations x {args.records} upserts at once, limit {common.API_LIMIT} per "
        f"{window:g} s per location, latency {args.latency_ms:g} ms, tokens fetched inside the timed run; "
        f"{common.machine()}; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with common.sandbox(args.scale, latency_ms=args.latency_ms, locations=args.locations, seed=0) as sb:
        from airflow_provider_contacts.hooks.contacts import ContactsHook
        from airflow_provider_contacts.transport import clear_transports

        connection = sb.agency_connection()
        connection["extra"]["token_file"] = str(
            Path(tempfile.mkdtemp(prefix="contacts-bench-")) / "tokens.json"
        )
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(connection)
        locations = list(sb.installed_location_ids)
        tag = uuid.uuid4().hex[:6]
        domains = {location: f"{location[-4:].lower()}-{tag}.bench" for location in locations}
        clear_transports()
        sb.reset_stats()
        ends: dict[str, float] = {}
        lock = threading.Lock()

        def work(location: str) -> list[dict[str, Any]]:
            records = common.people(args.records, domains[location])
            results = ContactsHook(CONN_ID, location_id=location).upsert_contacts(records, max_workers=None)
            with lock:
                ends[location] = time.perf_counter()
            return results

        start = time.perf_counter()
        with ThreadPoolExecutor(len(locations)) as pool:
            outcomes = dict(zip(locations, pool.map(work, locations), strict=True))
        seconds = time.perf_counter() - start
        stats = sb.stats()
        losses = {loc: lost_and_duplicated(sb, loc, domains[loc], args.records) for loc in locations}

    served = common.api_requests(stats)
    aggregate = served / seconds
    ratio = aggregate / (len(locations) * per_location_rate)
    peaks = {key.split("/", 1)[1]: n for key, n in stats["peak_requests_in_window"].items()}
    print(
        f"  {'location':<22} {'time (s)':>9} {'fastest':>8} {'ratio':>6} {'peak':>5} {'failed':>6} lost/dup",
        flush=True,
    )
    worst_peak = lost_total = duplicated_total = failed_total = 0
    for location in locations:
        results = outcomes[location]
        failed = sum(1 for r in results if not r["ok"])
        lost, duplicated = losses[location]
        took = ends[location] - start
        best = fastest_allowed(args.records, window, latency)
        print(
            f"  {location:<22} {took:>9.2f} {best:>8.2f} {best / took:>6.3f} {peaks.get(location, 0):>5} "
            f"{failed:>6} {lost:>4}/{duplicated}",
            flush=True,
        )
        worst_peak = max(worst_peak, peaks.get(location, 0))
        lost_total, duplicated_total, failed_total = (
            lost_total + lost,
            duplicated_total + duplicated,
            failed_total + failed,
        )
    common.figure("requests served", served)
    common.figure("wall time (s)", round(seconds, 2))
    common.figure(
        "aggregate rate (req/s)", round(aggregate, 2), f"best allowed {len(locations) * per_location_rate:g}"
    )
    common.figure("429 answers", stats["rate_limited_429"])
    common.figure("location tokens minted", sum(stats["location_tokens_minted"].values()))
    passed = [
        common.verdict(
            "aggregate rate / (locations x limit)", ratio >= GOAL_RATIO, f"{ratio:.3f} (goal >= {GOAL_RATIO})"
        ),
        common.verdict(
            "peak requests in a location's window",
            worst_peak <= common.API_LIMIT,
            f"{worst_peak} (<= {common.API_LIMIT})",
        ),
        common.verdict(
            "nothing lost",
            lost_total == duplicated_total == failed_total == 0,
            f"lost {lost_total}, duplicated {duplicated_total}, failed {failed_total}",
        ),
        common.verdict(
            "one token per location",
            stats["location_tokens_minted"] == dict.fromkeys(locations, 1),
            json.dumps(stats["location_tokens_minted"]),
        ),
    ]
    return all(passed)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)

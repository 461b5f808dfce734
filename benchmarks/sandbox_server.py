"""Throughput of the sandbox server: GET /contacts/{id} with keep-alive sessions from several threads.

Starts a seeded sandbox in its own process (so the client and the server do not share a GIL), with a rate
limit high enough never to bite and no latency, then hammers it for a fixed time and prints requests/s and
a verdict against the 1,000 requests/s goal.

    .venv/bin/python benchmarks/sandbox_server.py [--seconds 5] [--threads 8] [--seed 2000]
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time

import requests

from airflow_provider_contacts.sandbox import running_sandbox

GOAL = 1000.0


def hammer(
    base_url: str,
    token: str,
    ids: list[str],
    deadline: float,
    counts: list[int],
    errors: list[int],
    slot: int,
) -> None:
    """
    Send GETs on one keep-alive session until the deadline.

    :param base_url: the sandbox URL.
    :param token: bearer token.
    :param ids: contact ids to cycle through.
    :param deadline: ``time.monotonic()`` at which to stop.
    :param counts: per-thread success counters.
    :param errors: per-thread error counters.
    :param slot: this thread's index.
    """
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Version": "2021-07-28"})
    for contact_id in itertools.cycle(ids[slot::2] or ids):
        if time.monotonic() >= deadline:
            break
        response = session.get(f"{base_url}/contacts/{contact_id}", timeout=10)
        if response.status_code == 200:
            counts[slot] += 1
        else:
            errors[slot] += 1
    session.close()


def main() -> None:
    """Run the benchmark and print the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2000)
    args = parser.parse_args()
    with running_sandbox(subprocess_mode=True, seed=args.seed, rate_limit=10**9, daily_limit=10**9) as sb:
        token = sb.access_token()
        ids = [c["id"] for c in sb.all_contacts()][:500]
        counts = [0] * args.threads
        errors = [0] * args.threads
        start = time.monotonic()
        deadline = start + args.seconds
        threads = [
            threading.Thread(target=hammer, args=(sb.base_url, token, ids, deadline, counts, errors, i))
            for i in range(args.threads)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
    rate = sum(counts) / elapsed
    print(
        f"GET /contacts/{{id}}: {sum(counts)} ok, {sum(errors)} errors in {elapsed:.1f} s "
        f"with {args.threads} threads -> {rate:,.0f} requests/s"
    )
    verdict = "PASS" if rate >= GOAL and not sum(errors) else "FAIL"
    print(f"{verdict}: {rate:,.0f} requests/s vs the {GOAL:,.0f}/s goal")


if __name__ == "__main__":
    main()

"""Throughput of the sandbox server: GET /contacts/{id} from concurrent keep-alive clients.

Starts a seeded sandbox in its own process (so the client and the server do not share a GIL), with a rate
limit high enough never to bite and no latency, then hammers it for a fixed time from several client
processes, each running threads with one keep-alive ``http.client`` connection apiece (``requests`` costs
more client CPU than the server spends per request, and would measure the client). Prints requests/s and a
verdict against the 1,000 requests/s goal.

    .venv/bin/python benchmarks/sandbox_server.py [--seconds 5] [--processes 2] [--threads 4] [--seed 2000]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import threading
import time
from urllib.parse import urlsplit

from airflow_provider_contacts.sandbox import running_sandbox

GOAL = 1000.0


def _thread(base_url: str, token: str, ids: list[str], deadline: float, totals: list[int]) -> None:
    """
    Send GETs on one keep-alive connection until the deadline; add (ok, errors) to ``totals``.

    :param base_url: the sandbox URL.
    :param token: bearer token.
    :param ids: contact ids to cycle through.
    :param deadline: ``time.time()`` at which to stop.
    :param totals: ``[ok, errors]`` shared by the process's threads.
    """
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Authorization": f"Bearer {token}", "Version": "2021-07-28"}
    ok = errors = 0
    i = 0
    while time.time() < deadline:
        conn.request("GET", f"/contacts/{ids[i % len(ids)]}", headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            ok += 1
        else:
            errors += 1
        i += 1
    conn.close()
    totals[0] += ok
    totals[1] += errors


def _process(
    base_url: str, token: str, ids: list[str], deadline: float, threads: int, queue: multiprocessing.Queue
) -> None:
    """
    One client process: ``threads`` threads until the deadline; put ``(ok, errors)`` on the queue.

    :param base_url: the sandbox URL.
    :param token: bearer token.
    :param ids: contact ids.
    :param deadline: ``time.time()`` at which to stop.
    :param threads: threads in this process.
    :param queue: where the totals go.
    """
    totals = [0, 0]
    workers = [
        threading.Thread(target=_thread, args=(base_url, token, ids[n::threads] or ids, deadline, totals))
        for n in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    queue.put((totals[0], totals[1]))


def main() -> None:
    """Run the benchmark and print the result."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2000)
    args = parser.parse_args()
    with running_sandbox(subprocess_mode=True, seed=args.seed, rate_limit=10**9, daily_limit=10**9) as sb:
        token = sb.access_token()
        ids = [c["id"] for c in sb.all_contacts()][:500]
        queue: multiprocessing.Queue = multiprocessing.Queue()
        start = time.time()
        deadline = start + args.seconds
        procs = [
            multiprocessing.Process(
                target=_process, args=(sb.base_url, token, ids, deadline, args.threads, queue)
            )
            for _ in range(args.processes)
        ]
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        elapsed = time.time() - start
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    rate = ok / elapsed
    print(
        f"GET /contacts/{{id}}: {ok} ok, {errors} errors in {elapsed:.1f} s from {args.processes} processes x "
        f"{args.threads} keep-alive threads -> {rate:,.0f} requests/s"
    )
    verdict = "PASS" if rate >= GOAL and not errors else "FAIL"
    print(f"{verdict}: {rate:,.0f} requests/s vs the {GOAL:,.0f}/s goal")


if __name__ == "__main__":
    main()

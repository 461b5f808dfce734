"""A window's burst from one process: how soon an agency's locations' first hundred upserts each are out.

At each window's start a process that writes to ``--locations`` locations at their full budget sends
``100 x locations`` requests at once, and its CPU decides how soon the last of them is out: each location's
last window ends that much later (every rate slot comes back a window after its first use). This sends one
such burst ``--rounds`` times, each through three clients against the sandbox in its own process (150 ms
latency, the real limit, the server's windows emptied before each burst), and prints the client's CPU per
request and the burst's time (first send to last answer), each as a ratio to the bare ``urllib3`` client's in
the same round:

- ``hook``: ``ContactsHook(location_id=...).upsert_contacts`` per location in its own thread, automatic
  workers, a fresh transport each round (tokens read from the connection's token file, as a new task's);
- ``requests``: one bare ``requests.Session`` per location, 32 threads each, the same headers and bodies,
  answers decoded;
- ``urllib3``: one ``urllib3.HTTPConnectionPool`` per location, 32 threads each, otherwise the same.

The bare clients authenticate with the same location tokens and do nothing else (no limiter, no retries, no
validation): the least a Python client on this machine can spend. Goal: the hook's CPU per request at most
1.1 x bare ``requests``'s (the hook adds its limiter, retries and records; requests itself is most of it).

    .venv/bin/python benchmarks/burst.py [--locations 10] [--rounds 3]
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import _common as common

GOAL = 1.1
THREADS = 32
PER_LOCATION = common.API_LIMIT


def main(argv: list[str] | None = None) -> bool:
    """Run the benchmark; return whether it met its goal."""
    p = common.parser(__doc__)
    p.add_argument("--locations", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    from airflow_provider_contacts.hooks.contacts import ContactsHook
    from airflow_provider_contacts.transport import clear_transports

    print(
        f"burst: {args.locations} locations x {PER_LOCATION} upserts from one process, {args.rounds} rounds, "
        f"latency {args.latency_ms:g} ms; {common.machine()}",
        flush=True,
    )
    figures: dict[str, list[tuple[float, float]]] = {"hook": [], "requests": [], "urllib3": []}
    with common.sandbox(args.scale, latency_ms=args.latency_ms, locations=args.locations, seed=0) as sb:
        connection = sb.agency_connection()
        connection["extra"]["token_file"] = str(common.scratch_dir("tokens-") / "tokens.json")
        os.environ["AIRFLOW_CONN_CONTACTS_BURST"] = json.dumps(connection)
        locations = list(sb.installed_location_ids[: args.locations])
        first = {location: ContactsHook("contacts_burst", location_id=location) for location in locations}
        tokens = {location: hook.auth.access_token() for location, hook in first.items()}
        version = next(iter(first.values())).settings.api_version

        def hook_burst(tag: str) -> None:
            clear_transports()  # a new task's transport: its limiter and pools start empty
            hooks = {location: ContactsHook("contacts_burst", location_id=location) for location in locations}
            for hook in hooks.values():
                hook.auth.access_token()  # read from the token file, as a task's first call does

            def one(location: str) -> None:
                results = hooks[location].upsert_contacts(
                    common.people(PER_LOCATION, f"{tag}{location[-3:]}.b")
                )
                failed = [r["error"] for r in results if not r["ok"]]
                if failed:
                    raise RuntimeError(failed[0])

            with ThreadPoolExecutor(len(locations)) as pool:
                list(pool.map(one, locations))

        def bare_burst(kind: str, tag: str) -> None:
            def one(location: str) -> None:
                send = common.bare_sender(kind, sb.base_url, THREADS)
                bodies = [
                    json.dumps({**record, "locationId": location}).encode()
                    for record in common.people(PER_LOCATION, f"{tag}{location[-3:]}.b")
                ]
                with ThreadPoolExecutor(THREADS) as pool:
                    list(pool.map(lambda body: send(tokens[location], version, body), bodies))

            with ThreadPoolExecutor(len(locations)) as pool:
                list(pool.map(one, locations))

        runs: dict[str, Callable[[str], None]] = {
            "hook": hook_burst,
            "requests": lambda tag: bare_burst("requests", tag),
            "urllib3": lambda tag: bare_burst("urllib3", tag),
        }
        for round_ in range(args.rounds):
            for kind, run in runs.items():
                sb.reset_stats()  # empties the server's windows
                tag = uuid.uuid4().hex[:6]
                cpu, started = time.process_time(), time.monotonic()
                run(tag)
                seconds, cpu = time.monotonic() - started, time.process_time() - cpu
                rejected = sb.stats()["rate_limited_429"]
                if rejected:
                    raise SystemExit(f"{kind}: {rejected} answers of 429 in a burst within the limit")
                per_request = 1000 * cpu / (PER_LOCATION * len(locations))
                figures[kind].append((per_request, seconds))
                print(
                    f"  round {round_ + 1} {kind:<8} {per_request:6.3f} ms CPU per request, out in {seconds:5.2f} s"
                )
    floor_cpu = statistics.median(c for c, _ in figures["urllib3"])
    floor_time = statistics.median(s for _, s in figures["urllib3"])
    for kind, rows in figures.items():
        cpu = statistics.median(c for c, _ in rows)
        seconds = statistics.median(s for _, s in rows)
        print(
            f"  {kind:<8} median {cpu:6.3f} ms CPU per request ({cpu / floor_cpu:4.2f} x urllib3), burst out in "
            f"{seconds:5.2f} s ({seconds / floor_time:4.2f} x urllib3)",
            flush=True,
        )
    ratio = statistics.median(c for c, _ in figures["hook"]) / statistics.median(
        c for c, _ in figures["requests"]
    )
    return common.verdict(
        "burst",
        ratio <= GOAL,
        f"hook / bare requests CPU per request {ratio:.2f} (goal <= {GOAL}) at {len(locations)} locations",
    )


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)

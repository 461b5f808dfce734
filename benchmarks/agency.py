"""Agency and OAuth locations at their full rate budget, cold and warm: per location, fastest allowed / time taken.

Each case is what a task does, on a fresh process-level transport (``clear_transports``) and a fresh connection
(its own refresh token and token file), against the sandbox in its own process at 150 ms latency and the real
limit (100 requests per rolling 10 s per app and location):

- cold: the clock starts first; the company token (agency) or the OAuth token, and each location's token, are
  fetched inside it (the column ``token`` says how long that took);
- warm after a pause of P seconds: each location first sends one search (its token fetched before it, as a
  task that searches or validates before it writes), waits P seconds, and only then starts the clock;

then ``upsert_contacts`` of ``--records`` new contacts per location, each location in its own thread. An
agency case runs its locations through one agency connection (one ``ContactsHook(location_id=...)`` each);
an OAuth connection holds one location, so the OAuth cases run with one location only. With ``--layout tasks``
each location of an agency case runs in a spawned process of its own instead, as the mapped tasks of
``contacts_agency_sync`` run (a task process per location; they share the connection's token file as tasks share
its Variable), its imports done before the locations start together at a barrier; the bare client's reference
below runs beside the threads layout only.

Each location is judged by its own time ratio: the fastest time the limit allows, computed for that location
in the same run, divided by the time it took (a burst cannot push it above 1). The fastest time counts the
requests already in the location's window: a warm search counts from the moment it was sent (the earliest it
can have reached the server), and each later request can arrive no sooner than a window after the request 100
places before it; then one latency for the last answer. Cold: ``floor((N - 1) / 100)`` windows plus a latency
(20.15 s for 300), and for an agency location one latency more (20.30 s): its first upsert cannot start before
its token is minted, a request to the API (``/oauth/location-token``) at the same latency. (The sandbox adds
no latency to ``/oauth/token``, the company's and OAuth's refresh, so that one adds nothing.) After a search
and no pause, 301 requests share the budget: the 300th upsert cannot arrive before the search's arrival plus
three windows (about 30 s), and that is no lost window. The goal (>= 0.95) applies where ``max_workers`` can
reach the fastest time at all without drawing a 429: the same computation with each worker sending one request
per latency (automatic: its ceiling, 64), and each request counted from its answer (a client cannot see when
the server counted a request, only that it had by the answer, so that is the rule of every client that never
draws a 429), must come within 0.95 of it. 16 workers at 300 records cannot (0.944: each window's hundred
requests take seven round trips). A location that took a whole window longer than the fastest time is reported
as a lost window. ``sent`` is what the location's hook sent for the upserts, retries included (each attempt
takes a rate slot), so a lost window caused by a retried request is told apart from one the limiter lost. Each
case also prints the CPU seconds the client process and the sandbox spent in it: the client sends every
location's burst from one process, so at ten locations its CPU decides how soon each window's thousand
requests are out. How far this machine's CPU lets any Python client go: each cold agency case of four
locations or more is run again, in the same process and on emptied server windows, by a bare ``urllib3``
client (:func:`bare_location`: the same workers and pacing, no validation or retries, tokens minted before
its clock and one latency added for them), and its ratios are printed beside the hook's. They are not judged.

    .venv/bin/python benchmarks/agency.py [--auth agency,oauth] [--locations 1,4,10] [--records 300,1000]
        [--workers auto,16,32] [--warm cold,0,10.5] [--layout threads,tasks] [--quick] [--tls] [--scale 1]
        [--latency-ms 150]

``--quick``: 300 records, automatic workers, 1 and 4 locations, every warmth, both kinds (about 4 minutes).
``--tls``: the sandbox serves HTTPS, as the API does, with a CA of the benchmark's own trusted through
``REQUESTS_CA_BUNDLE`` beside ``certifi``'s authorities; every new connection then pays its handshake.
The full matrix (the default) takes about 90 minutes at the real limit (91 on 2026-12-06, with the bare
client's runs; 81 on 2026-12-05, before each case ran in a process of its own). Each case runs in a spawned
process of its own, as a task does: no transport, token, thread or memory is left from the cases before it,
and its imports are done before its clock starts. The garbage collector is emptied (``gc.collect()``) before
the hook's clock and before the bare client's, so neither pays a collection the harness left due.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import math
import multiprocessing
import os
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import _common as common

GOAL_RATIO = 0.95
#: Cold agency cases of this many locations or more are also run by a bare client (:func:`bare_reference`).
BARE_FROM_LOCATIONS = 4
#: ``upsert_contacts(max_workers=None)`` never has more requests in flight than this.
AUTO_CEILING = 64


def fastest_allowed(
    requests: int,
    window: float,
    latency: float,
    limit: int = common.API_LIMIT,
    before: Sequence[float] = (),
    workers: int | None = None,
    from_answers: bool = False,
) -> float:
    """
    The shortest time one location's rolling window allows for ``requests`` more requests, from now (0).

    :param requests: how many.
    :param window: the window in seconds.
    :param latency: the server's latency in seconds.
    :param limit: requests per window.
    :param before: when the requests already sent on the location's budget reached the server at the
        earliest, in seconds relative to now (so negative).
    :param workers: requests in flight at most (each worker sends one per latency); None: no bound.
    :param from_answers: count each request from its answer, as a client that never draws a 429 must (it
        cannot see when the server counted a request, only that it had by the answer): a request may
        start a window after the answer of the request ``limit`` places before it.
    """
    arrivals = sorted(before)
    first = len(arrivals)
    held = latency if from_answers else 0.0
    for index in range(requests):
        at = 0.0
        if len(arrivals) >= limit:
            at = max(at, arrivals[-limit] + held + window)
        if workers is not None and index >= workers:
            at = max(at, arrivals[first + index - workers] + latency)
        arrivals.append(at)
    return arrivals[-1] + latency if requests else 0.0


def lost_and_duplicated(sb: Any, location: str, domain: str, expected: int) -> tuple[int, int]:
    """
    Records of one location's run missing from the server, and extra copies.

    :param sb: the sandbox.
    :param location: the location.
    :param domain: the run's e-mail domain.
    :param expected: how many records it sent.
    """
    counts: dict[str, int] = {}
    for contact in sb.all_contacts(location, email_domain=domain):  # filtered by the server
        email = str(contact.get("email") or "")
        counts[email] = counts.get(email, 0) + 1
    lost = sum(1 for i in range(expected) if f"person.{i}@{domain}" not in counts)
    return lost, sum(n - 1 for n in counts.values() if n > 1)


@dataclass
class Case:
    """One case of the matrix."""

    auth: str
    locations: int
    records: int
    workers: int | None
    pause: float | None  # None: cold
    layout: str = "threads"  # or "tasks": each location in a process of its own

    @property
    def label(self) -> str:
        warmth = "cold" if self.pause is None else f"warm {self.pause:g}s"
        apart = " tasks" if self.layout == "tasks" else ""
        return f"{self.auth} x{self.locations}{apart} {self.records} w={self.workers or 'auto'} {warmth}"


@dataclass
class Location:
    """The figures of one location in one case."""

    location: str
    seconds: float
    fastest: float
    bound: float
    failed: int
    lost: int
    duplicated: int
    peak: int
    attempts: int
    token_wait: float

    @property
    def ratio(self) -> float:
        return self.fastest / self.seconds

    @property
    def covered(self) -> bool:
        """Whether the workers can reach the fastest time within the goal, never drawing a 429."""
        return self.fastest / self.bound >= GOAL_RATIO


def _connection(sb: Any, auth: str) -> dict[str, Any]:
    """A fresh connection of the kind (its own refresh token), its rotated tokens in a new file."""
    connection = (
        sb.agency_connection() if auth == "agency" else json.loads(sb.conn_env(sb.oauth_connection()))
    )
    connection["extra"]["token_file"] = str(common.scratch_dir("tokens-") / "tokens.json")
    return connection


def bare_location(
    base_url: str, location: str, token: str, version: str, records: int, workers: int, window: float
) -> float:
    """
    One location's upserts by a bare ``urllib3`` client: the least a Python client of this machine spends.

    Its own pool and ``workers`` threads; the bodies encoded before the clock; no validation, no retries, no
    limiter but the rule of every client that never draws a 429 (a request starts a window after the answer
    of the request ``limit`` places before it). Its time, from its first request to its last answer.

    :param base_url: the sandbox.
    :param location: the location.
    :param token: the location's token, minted already.
    :param version: the API version header.
    :param records: how many new contacts.
    :param workers: requests in flight at most.
    :param window: the window in seconds.
    """
    send = common.bare_sender("urllib3", base_url, workers)
    domain = f"bare-{location[-4:].lower()}-{uuid.uuid4().hex[:6]}.bench"
    bodies = [
        json.dumps({**record, "locationId": location}).encode() for record in common.people(records, domain)
    ]
    answered = [0.0] * records
    done = [threading.Event() for _ in range(records)]
    order = itertools.count()
    limit = common.API_LIMIT
    failures: list[str] = []

    def worker() -> None:
        while (index := next(order)) < records and not failures:
            if index >= limit:
                done[index - limit].wait(timeout=600)
                delay = answered[index - limit] + window - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            try:
                send(token, version, bodies[index])
            except Exception as error:
                failures.append(str(error))
            answered[index] = time.monotonic()
            done[index].set()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    if failures:
        raise RuntimeError(f"the bare client of {location}: {failures[0]}")
    return seconds


def bare_reference(
    sb: Any, case: Case, window: float, tokens: dict[str, str], version: str
) -> dict[str, float]:
    """
    The case's locations by :func:`bare_location`, all at once as the hook's were, on emptied server windows.

    :param sb: the sandbox.
    :param case: the case.
    :param window: the window in seconds.
    :param tokens: each location's token, minted already.
    :param version: the API version header.
    :return: seconds per location.
    """
    sb.reset_stats()
    workers = case.workers or AUTO_CEILING
    gc.collect()  # from the same collector's state as the hook's clock (run_case)
    with ThreadPoolExecutor(len(tokens)) as pool:
        futures = {
            location: pool.submit(
                bare_location, sb.base_url, location, token, version, case.records, workers, window
            )
            for location, token in tokens.items()
        }
        seconds = {location: future.result() for location, future in futures.items()}
    if sb.stats()["rate_limited_429"]:
        raise RuntimeError("the bare client drew a 429: its pacing is wrong")
    return seconds


def load_task_modules() -> None:
    """
    Import, before any clock, what a task process has loaded when its task starts. Airflow's connection lookup
    imports its supervisor module on first use (23 ms of the first location's token wait on 2026-12-06); a
    task process is forked from its supervisor and has it loaded already.
    """
    import airflow.sdk.execution_time.supervisor  # noqa: F401

    from airflow_provider_contacts.hooks.contacts import ContactsHook  # noqa: F401


def location_work(conn_id: str, location: str, case: Case, domain: str, ready: Any) -> dict[str, Any]:
    """
    One location's part of a case, in a thread of the case's process or in a process of its own.

    :param conn_id: the case's connection.
    :param location: the location.
    :param case: the case.
    :param domain: the e-mail domain of its records.
    :param ready: a barrier every location of the case waits at before its clock.
    :return: its clock (``start``, ``end`` and the warm search's ``sent``, on the system-wide monotonic
        clock), ``failed`` records, ``attempts``, ``token_wait``, its ``token`` and ``version`` (for the bare
        client), and its process's CPU seconds over it (``cpu``: its own only in a process of its own).
    """
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    cpu = time.process_time()
    hook = ContactsHook(conn_id, location_id=location)
    records = common.people(case.records, domain)
    sent: list[float] = []
    if case.pause is not None:
        hook.auth.access_token()  # the token first, as a task that already used its connection
        sent.append(time.monotonic())
        next(iter(hook.search_contacts(page_limit=1)), None)
    ready.wait()  # the locations start together, cold or after their searches
    if case.pause is not None:
        time.sleep(case.pause)
    before = hook.requests_sent
    start = time.monotonic()
    if case.pause is None:
        hook.auth.access_token()  # what the first upsert waits for anyway: inside the clock, timed apart
    token_wait = time.monotonic() - start
    results = hook.upsert_contacts(records, max_workers=case.workers)
    end = time.monotonic()
    return {
        "start": start,
        "end": end,
        "sent": sent,
        "failed": sum(1 for r in results if not r["ok"]),
        "attempts": hook.requests_sent - before,  # retries included: each took a rate slot
        "token_wait": token_wait,
        "token": hook.auth.access_token(),  # for the bare client, after the clock
        "version": hook.settings.api_version,
        "cpu": time.process_time() - cpu,
    }


def _location_task(
    conn_id: str, connection: str, location: str, case: Case, domain: str, ready: Any, results: Any
) -> None:
    """
    :func:`location_work` as a mapped task of ``contacts_agency_sync`` runs it: in a process of its own, its
    imports done before the barrier; the figures (or the error) go to ``results``.
    """
    load_task_modules()
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = connection
    gc.collect()
    try:
        results.put((location, location_work(conn_id, location, case, domain, ready)))
    except BaseException as error:
        ready.abort()  # the other locations do not wait for this one
        results.put((location, f"{type(error).__name__}: {error}"))


def run_in_tasks(
    conn_id: str, connection: str, locations: list[str], case: Case, domains: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """
    Each location of the case in a spawned process of its own, started together at a barrier.

    :param conn_id: the case's connection.
    :param connection: its JSON.
    :param locations: the locations.
    :param case: the case.
    :param domains: each location's e-mail domain.
    :return: :func:`location_work`'s figures per location.
    """
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(len(locations))
    results = context.Queue()
    processes = [
        context.Process(
            target=_location_task,
            args=(conn_id, connection, location, case, domains[location], ready, results),
            daemon=True,
        )
        for location in locations
    ]
    for process in processes:
        process.start()
    figures: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 600
    try:
        while len(figures) < len(locations):
            try:
                location, outcome = results.get(timeout=1)
            except queue.Empty:
                died = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
                if died or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{len(locations) - len(figures)} locations reported nothing "
                        f"({'exit codes ' + str(died) if died else 'in 600 s'})"
                    ) from None
                continue
            if isinstance(outcome, str):
                raise RuntimeError(f"location {location}: {outcome}")
            figures[location] = outcome
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return figures


def run_case(sb: Any, case: Case, window: float, latency: float) -> tuple[list[Location], dict[str, Any]]:
    """
    Run one case and measure every location.

    :param sb: the sandbox (with at least ``case.locations`` installed locations).
    :param case: the case.
    :param window: the window in seconds.
    :param latency: the sandbox's latency in seconds.
    :return: the figures per location, and the sandbox's counters.
    """
    from airflow_provider_contacts.transport import clear_transports

    load_task_modules()

    conn_id = f"contacts_bench_{uuid.uuid4().hex[:8]}"
    connection = json.dumps(_connection(sb, case.auth))
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = connection
    locations = list(sb.installed_location_ids[: case.locations])
    tag = uuid.uuid4().hex[:6]
    domains = {location: f"{location[-4:].lower()}-{tag}.bench" for location in locations}
    clear_transports()
    sb.reset_stats()  # also empties the server's rate windows

    # The harness's imports leave a full collection nearly due (counts (365, 10, 9) before a case's clock on
    # 2026-12-06; the collection, 81 ms, came 0.12 s in, inside every location's token wait), and the bare
    # client, run next in this process, would not pay it. Both clocks start from an emptied collector; the
    # collections the clients' own allocations bring on stay inside them.
    gc.collect()
    server_cpu = sb.stats()["process_cpu_seconds"]
    client_cpu = time.process_time()
    if case.layout == "tasks":
        work = run_in_tasks(conn_id, connection, locations, case, domains)
        client_cpu = sum(figures["cpu"] for figures in work.values())
    else:
        ready = threading.Barrier(len(locations))
        with ThreadPoolExecutor(len(locations)) as pool:
            work = dict(
                zip(
                    locations,
                    pool.map(lambda at: location_work(conn_id, at, case, domains[at], ready), locations),
                    strict=True,
                )
            )
        client_cpu = time.process_time() - client_cpu
    stats = sb.stats()
    stats["client_cpu_seconds"] = client_cpu
    stats["server_cpu_seconds"] = stats["process_cpu_seconds"] - server_cpu
    # A cold agency location's first upsert waits for its token's mint, one request at the API's latency.
    cold_agency = case.auth == "agency" and case.pause is None
    mint = latency if cold_agency else 0.0
    if cold_agency and case.locations >= BARE_FROM_LOCATIONS and case.layout == "threads":
        # After the hook's figures are read (the reference empties the server's windows and counters).
        stats["bare_ratios"] = [
            (mint + fastest_allowed(case.records, window, latency)) / (mint + seconds)
            for seconds in bare_reference(
                sb, case, window, {at: work[at]["token"] for at in locations}, work[locations[0]]["version"]
            ).values()
        ]
    peaks = {key.split("/", 1)[1]: n for key, n in stats["peak_requests_in_window"].items()}
    figures = []
    for location in locations:
        figures_of = work[location]
        start = figures_of["start"]
        before = [at - start for at in figures_of["sent"]]
        lost, duplicated = lost_and_duplicated(sb, location, domains[location], case.records)
        figures.append(
            Location(
                location=location,
                seconds=figures_of["end"] - start,
                fastest=mint + fastest_allowed(case.records, window, latency, before=before),
                bound=mint
                + fastest_allowed(
                    case.records,
                    window,
                    latency,
                    before=before,
                    workers=case.workers or AUTO_CEILING,
                    from_answers=True,
                ),
                failed=figures_of["failed"],
                lost=lost,
                duplicated=duplicated,
                peak=peaks.get(location, 0),
                attempts=figures_of["attempts"],
                token_wait=figures_of["token_wait"],
            )
        )
    return figures, stats


def run_case_apart(
    sb: Any, case: Case, window: float, latency: float
) -> tuple[list[Location], dict[str, Any]]:
    """
    :func:`run_case` in a process of its own, as a task runs: the case starts from a new interpreter (no
    transport, token, thread or memory left by the cases before it), and nothing it leaves behind slows the
    next. Its imports are done before its clock starts, as a task's are before it runs.

    :param sb: the sandbox (its handle is sent to the process).
    :param case: the case.
    :param window: the window in seconds.
    :param latency: the sandbox's latency in seconds.
    """
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(run_case, sb, case, window, latency).result()


def _numbers(text: str) -> list[float]:
    return [float(value) for value in text.split(",") if value]


def matrix(args: Any) -> list[Case]:
    """The cases the options ask for: every combination, OAuth with one location only."""
    workers = [None if w == "auto" else int(w) for w in args.workers.split(",") if w]
    pauses = [None if w == "cold" else float(w) / args.scale for w in args.warm.split(",") if w]
    cases = []
    for auth in args.auth.split(","):
        for locations in [int(n) for n in _numbers(args.locations)]:
            if auth == "oauth" and locations != 1:
                continue
            for layout in args.layout.split(","):
                if layout == "tasks" and locations == 1:
                    continue  # one location in one process: the threads layout's case
                for records in [int(n) for n in _numbers(args.records)]:
                    for worker in workers:
                        for pause in pauses:
                            cases.append(Case(auth, locations, records, worker, pause, layout))
    return cases


def main(argv: list[str] | None = None) -> bool:
    """Run the benchmark; return whether it met its goals."""
    p = common.parser(__doc__)
    p.add_argument("--auth", default="agency,oauth", help="connection kinds: agency, oauth")
    p.add_argument("--locations", default="1,4,10", help="locations per case (OAuth: 1 only)")
    p.add_argument("--records", default="300,1000", help="new contacts per location")
    p.add_argument("--workers", default="auto,16,32", help="max_workers ('auto' = None)")
    p.add_argument(
        "--warm", default="cold,0,10.5", help="'cold', or the pause in seconds after a warm-up search"
    )
    p.add_argument(
        "--layout",
        default="threads",
        help="'threads': every location of a case in one process, a thread each; 'tasks': each location in a "
        "process of its own, as the mapped tasks of contacts_agency_sync run",
    )
    p.add_argument("--quick", action="store_true", help="300 records, automatic workers, 1 and 4 locations")
    p.add_argument(
        "--tls",
        action="store_true",
        help="serve the sandbox over HTTPS, as the API is (a CA of its own, trusted with certifi's)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.records, args.workers, args.locations = "300", "auto", "1,4"
    window = common.API_WINDOW / args.scale
    latency = args.latency_ms / 1000
    cases = matrix(args)
    print(
        f"agency: {len(cases)} cases, limit {common.API_LIMIT} per {window:g} s per location, latency "
        f"{args.latency_ms:g} ms; {common.machine()}",
        flush=True,
    )
    print(
        f"  {'case':<32} {'location':<22} {'time (s)':>9} {'fastest':>8} {'ratio':>6} {'judged':>6} "
        f"{'peak':>5} {'429s':>5} {'sent':>5} failed lost/dup token (s)",
        flush=True,
    )
    worst = math.inf
    passed = True
    lost_windows = rejected = 0
    short: list[str] = []  # judged cases below the goal
    machine_bound: list[str] = []  # ... where the bare client of the same run was below it too
    most = max(int(n) for n in _numbers(args.locations))
    with contextlib.ExitStack() as stack:
        tls = stack.enter_context(common.tls_sandbox_files()) if args.tls else {}
        sb = stack.enter_context(
            common.sandbox(args.scale, latency_ms=args.latency_ms, locations=most, seed=0, **tls)
        )
        for case in cases:
            figures, stats = run_case_apart(sb, case, window, latency)
            rejected += stats["rate_limited_429"]
            minted = stats["location_tokens_minted"]
            if case.auth == "agency" and minted != {f.location: 1 for f in figures}:
                passed = False
                print(f"  {case.label}: location tokens minted {json.dumps(minted)} (goal: one each)")
            sent = sum(f.attempts for f in figures)
            print(
                f"  {case.label}: CPU of the client {stats['client_cpu_seconds']:.2f} s "
                f"({1000 * stats['client_cpu_seconds'] / max(sent, 1):.2f} ms per request), of the sandbox "
                f"{stats['server_cpu_seconds']:.2f} s, for {sent} requests",
                flush=True,
            )
            for f in figures:
                judged = "yes" if f.covered else f"no ({f.fastest / f.bound:.3f})"
                print(
                    f"  {case.label:<32} {f.location:<22} {f.seconds:>9.2f} {f.fastest:>8.2f} {f.ratio:>6.3f} "
                    f"{judged:>6} {f.peak:>5} {stats['rate_limited_429']:>5} {f.attempts:>5} {f.failed:>6} "
                    f"{f.lost:>4}/{f.duplicated} {f.token_wait:9.2f}",
                    flush=True,
                )
                lost_windows += f.seconds - f.fastest >= 0.9 * window
                passed &= f.failed == f.lost == f.duplicated == 0 and f.peak <= common.API_LIMIT
                if f.covered:
                    worst = min(worst, f.ratio)
                    passed &= f.ratio >= GOAL_RATIO
            below = any(f.covered and f.ratio < GOAL_RATIO for f in figures)
            if below:
                short.append(case.label)
            if "bare_ratios" in stats:
                bare = stats["bare_ratios"]
                hook_worst = min(f.ratio for f in figures)
                print(
                    f"  {case.label}: a bare urllib3 client, same run, same pacing, tokens ready (one latency "
                    f"added): ratio {min(bare):.3f}-{max(bare):.3f}; the hook's worst location "
                    f"{hook_worst:.3f}, {hook_worst / min(bare):.3f} of the bare client's worst",
                    flush=True,
                )
                if below and min(bare) < GOAL_RATIO:
                    machine_bound.append(case.label)
    passed &= rejected == 0 and lost_windows == 0
    # Still a failure: the label only says where to look (a faster machine, not the client).
    bound_note = f"; below the goal in {len(short)} cases" if short else ""
    if machine_bound:
        bound_note += (
            f", in {len(machine_bound)} of them the bare urllib3 client of the same run too (this machine's "
            f"CPU: {', '.join(machine_bound)})"
        )
    return common.verdict(
        "agency",
        passed,
        f"worst judged location ratio {'(none judged)' if worst == math.inf else f'{worst:.3f}'} "
        f"(goal >= {GOAL_RATIO}), {lost_windows} lost windows, "
        f"{rejected} 429s, over {len(cases)} cases{bound_note}",
    )


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)

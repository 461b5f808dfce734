"""New HTTPS connections: the client's CPU for each, against the least a Python client spends on one.

The API is HTTPS only, and a batch opens its connections in its first window's burst: up to 64 per location
at automatic workers, 640 for ten agency locations, on the CPU that decides how soon that burst is out. The
sandbox serves plain HTTP, so no other benchmark pays for TLS. This one starts a TLS server of its own CA in
a process of its own (the tests' server, ``tests/unit/transport/test_tls_connections.py``), trusts it through
``REQUESTS_CA_BUNDLE`` with a bundle of ``certifi``'s authorities plus that CA (as a corporate bundle is), and
opens ``--connections`` new connections at once, each sending one GET, ``--rounds`` times through:

- ``provider``: a transport's session (``new_session``) and its direct path, as the hook sends, after one
  request by ``requests``' own path (a token's, whose adapter hands the pool the bundle's path);
- ``requests``: a plain ``requests.Session``, the way ``requests`` opens a connection;
- ``floor``: a ``urllib3`` pool holding one TLS context loaded before the clock: the handshake and the
  request, nothing else.

Each figure is the client's CPU per connection (median of the rounds), and its ratio to the floor's in the
same round. Goal: the provider at most 1.5 x the floor (`requests` spends 10 to 20 x).

    .venv/bin/python benchmarks/tls_connections.py [--connections 64] [--rounds 5]
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common as common

GOAL = 1.5


def serve(folder: str, ready: Any, stop: Any) -> None:
    """The TLS server, in its own process: put its port in ``ready``, serve until ``stop`` is set."""
    sys.path.insert(0, str(common.REPO_ROOT))
    from tests.tls import Authority, TlsServer

    server = TlsServer(Authority(Path(folder), "Contacts Bench CA"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.put(server.port)
    stop.wait()
    server.shutdown()


def at_once(count: int, send: Callable[[], int]) -> float:
    """CPU seconds of ``count`` threads each sending one request at once (new connections)."""
    barrier = threading.Barrier(count + 1)
    failures: list[str] = []

    def one() -> None:
        barrier.wait()
        status = send()
        if status != 200:
            failures.append(str(status))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    started = time.process_time()
    barrier.wait()
    for thread in threads:
        thread.join()
    spent = time.process_time() - started
    if failures:
        raise RuntimeError(f"the TLS server answered {failures[0]}")
    return spent


def provider_get(sender: Any, url: str) -> int:
    """One GET by a transport's direct path."""
    return int(sender.send("GET", url, params=None, json=None, headers={}, timeout=30).status)


def requests_get(session: Any, url: str) -> int:
    """One GET by a plain ``requests`` session."""
    return int(session.get(url, timeout=30).status_code)


def floor_get(pool: Any) -> int:
    """One GET by a ``urllib3`` pool with its TLS context loaded already."""
    return int(pool.request("GET", "/x").status)


def main(argv: list[str] | None = None) -> bool:
    """Run the benchmark; return whether it met its goal."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connections", type=int, default=64, help="new connections opened at once per round")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    import requests
    import urllib3
    from urllib3.util.ssl_ import create_urllib3_context

    from airflow_provider_contacts.transport.direct import DirectPath
    from airflow_provider_contacts.transport.session import new_session
    from tests.tls import corporate_bundle

    folder = tempfile.mkdtemp(prefix="contacts-bench-tls-")
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    server = context.Process(target=serve, args=(folder, ready, stop), daemon=True)
    server.start()
    try:
        port = ready.get(timeout=60)
        bundle = corporate_bundle(Path(folder) / "Contacts Bench CA.pem")
        os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
        url = f"https://localhost:{port}/x"
        print(
            f"tls_connections: {args.connections} new HTTPS connections at once, {args.rounds} rounds, CA bundle "
            f"of {bundle.read_bytes().count(b'BEGIN CERTIFICATE')} certificates; {common.machine()}",
            flush=True,
        )
        figures: dict[str, list[float]] = {"provider": [], "requests": [], "floor": []}
        for _ in range(args.rounds):
            sender = DirectPath(new_session())
            plain = requests.Session()
            plain.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=args.connections))
            loaded = create_urllib3_context()
            loaded.load_verify_locations(cafile=str(bundle))
            pool = urllib3.HTTPSConnectionPool(
                "localhost", port, maxsize=args.connections, ssl_context=loaded
            )
            senders: dict[str, Callable[[], int]] = {
                "provider": functools.partial(provider_get, sender, url),
                "requests": functools.partial(requests_get, plain, url),
                "floor": functools.partial(floor_get, pool),
            }
            # A transport's first request is its token's, by requests' own path (its adapter hands the pool
            # the bundle's path): sent before the clock, as a batch's token is fetched before its burst.
            assert requests_get(sender.session, url) == 200
            for name, send in senders.items():
                figures[name].append(at_once(args.connections, send))
        per = {name: 1000 * statistics.median(values) / args.connections for name, values in figures.items()}
        ratios = {
            name: statistics.median(v / f for v, f in zip(values, figures["floor"], strict=True))
            for name, values in figures.items()
        }
        for name in ("provider", "requests", "floor"):
            common.figure(
                f"{name}: CPU per new connection (ms)", per[name], f"{ratios[name]:.2f} x the floor"
            )
    finally:
        stop.set()
        server.join(30)
        shutil.rmtree(folder, ignore_errors=True)
    passed = ratios["provider"] <= GOAL
    return common.verdict(
        "tls_connections",
        passed,
        f"the provider's CPU per new HTTPS connection {ratios['provider']:.2f} x the floor (goal <= {GOAL}); "
        f"requests' own {ratios['requests']:.1f} x",
    )


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)

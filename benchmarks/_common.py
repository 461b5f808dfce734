"""Shared pieces of the benchmarks: options, the sandbox with real (or proportionally scaled) limits, the
connection, test records, figures and the one-line verdict.

Every benchmark runs the sandbox in its own process (``subprocess_mode=True``), so the server never shares
the GIL with the client being measured.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import urllib3

# Before anything imports Airflow: a throw-away AIRFLOW_HOME, never the user's ~/airflow.
_HOME = Path(tempfile.mkdtemp(prefix="contacts-bench-home-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)  # each benchmark process (and case) makes its own
os.environ.setdefault("AIRFLOW_HOME", str(_HOME))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_HOME / 'airflow.db'}")

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox  # noqa: E402

#: The API's burst limit: requests per window, and the window in seconds.
API_LIMIT = 100
API_WINDOW = 10.0
CONN_ENV = "AIRFLOW_CONN_CONTACTS_DEFAULT"


def parser(description: str | None) -> argparse.ArgumentParser:
    """
    An argument parser with the options every benchmark shares: ``--scale`` and ``--latency-ms``.

    :param description: the benchmark's docstring (its first line is used).
    """
    first_line = (description or "").strip().splitlines()[0] if description else None
    p = argparse.ArgumentParser(description=first_line)
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="shorten the 10 s rate window by this factor (10 -> 100 requests per 1 s); 1 = the real API",
    )
    p.add_argument("--latency-ms", type=float, default=150.0, help="latency the sandbox adds to each request")
    return p


def limit_per_second(scale: float) -> float:
    """
    The API's rate ceiling in requests per second at a scale.

    :param scale: the window's shortening factor.
    """
    return API_LIMIT / (API_WINDOW / scale)


@contextmanager
def sandbox(scale: float = 1.0, **options: Any) -> Iterator[SandboxHandle]:
    """
    A sandbox in its own process with the API's limits (100 per 10 s, window divided by ``scale``).

    :param scale: the window's shortening factor.
    :param options: more sandbox options (``seed``, ``latency_ms``, ...), overriding the defaults.
    """
    settings: dict[str, Any] = {
        "rate_limit": API_LIMIT,
        "rate_interval": API_WINDOW / scale,
        "daily_limit": 10**9,
        "random_seed": 7,
        **options,
    }
    with running_sandbox(subprocess_mode=True, **settings) as handle:
        yield handle


def scratch_dir(prefix: str) -> Path:
    """
    A new folder inside this process's throw-away ``AIRFLOW_HOME``, removed with it when the process ends (token
    files of the sandbox's connections: nothing of a benchmark is left in the temporary directory).

    :param prefix: the folder name's prefix.
    """
    return Path(tempfile.mkdtemp(prefix=prefix, dir=_HOME))


def use_sandbox(handle: SandboxHandle, token_dir: Path | None = None, **extra: Any) -> dict[str, Any]:
    """
    Point ``contacts_default`` at a sandbox (its OAuth connection, rotated tokens in a temporary file).

    :param handle: the running sandbox.
    :param token_dir: where the token file goes; default a new folder of :func:`scratch_dir`.
    :param extra: more connection extra keys (``max_retries``, ...).
    :return: the connection dict now in ``AIRFLOW_CONN_CONTACTS_DEFAULT``.
    """
    connection = json.loads(handle.conn_env(handle.oauth_connection()))
    folder = token_dir or scratch_dir("tokens-")
    connection["extra"]["token_file"] = str(folder / "tokens.json")
    connection["extra"].update(extra)
    os.environ[CONN_ENV] = json.dumps(connection)
    return connection


def api_requests(stats: dict[str, Any]) -> int:
    """
    API requests the sandbox served (answers other than 429), without the OAuth token endpoint.

    :param stats: ``sb.stats()``.
    """
    by_route = stats["requests_by_route"]
    oauth = sum(n for route, n in by_route.items() if route.startswith("POST /oauth"))
    return stats["total_requests"] - oauth - stats["rate_limited_429"]


def peak_in_window(stats: dict[str, Any]) -> int:
    """
    The most requests one client had in a single rolling window, from the sandbox's own counter.

    :param stats: ``sb.stats()``.
    """
    return max(stats["peak_requests_in_window"].values(), default=0)


def bare_sender(kind: str, base_url: str, threads: int) -> Callable[[str, str, bytes], None]:
    """
    One location's bare client (its own ``urllib3`` pool or ``requests`` session), the least a Python client
    of this machine spends: ``send(location token, version, body)`` upserts one contact and decodes the answer.

    :param kind: ``urllib3`` or ``requests``.
    :param base_url: the sandbox.
    :param threads: the threads that send through it (the pool's size).
    """
    if kind == "urllib3":
        # Over HTTPS, one TLS context trusting REQUESTS_CA_BUNDLE, loaded before the clock: the least a
        # client spends on a connection.
        pool = urllib3.connection_from_url(base_url, maxsize=threads, **tls_context_kwargs(base_url))

        def send(token: str, version: str, body: bytes) -> None:
            answer = pool.request("POST", "/contacts/upsert", body=body, headers=bare_headers(token, version))
            if answer.status >= 300:
                raise RuntimeError(f"HTTP {answer.status}")
            json.loads(answer.data)

        return send
    session = requests.Session()

    def send_with_requests(token: str, version: str, body: bytes) -> None:
        answer = session.post(
            f"{base_url}/contacts/upsert", data=body, headers=bare_headers(token, version), timeout=30
        )
        answer.raise_for_status()
        answer.json()

    return send_with_requests


def tls_context_kwargs(base_url: str) -> dict[str, Any]:
    """A bare ``urllib3`` pool's TLS argument for a URL: none for HTTP, a context loaded once for HTTPS."""
    if not base_url.startswith("https:"):
        return {}
    from urllib3.util.ssl_ import create_urllib3_context

    context = create_urllib3_context()
    context.load_verify_locations(cafile=os.environ["REQUESTS_CA_BUNDLE"])
    return {"ssl_context": context}


@contextmanager
def tls_sandbox_files() -> Iterator[dict[str, str]]:
    """
    Serve the sandbox over HTTPS, as the API is served: a CA of the benchmark's own and a certificate it
    signed for 127.0.0.1, trusted through ``REQUESTS_CA_BUNDLE`` with ``certifi``'s authorities (a
    corporate bundle's shape), for this process and the processes it starts.

    :return: the sandbox options ``tls_cert`` and ``tls_key``.
    """
    from tests.tls import Authority, corporate_bundle

    folder = Path(tempfile.mkdtemp(prefix="contacts-bench-tls-"))
    authority = Authority(folder, "Contacts Bench CA", hosts=("127.0.0.1",))
    bundle = corporate_bundle(authority.bundle)
    before = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
    try:
        yield {"tls_cert": str(authority.chain), "tls_key": str(authority.key)}
    finally:
        if before is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = before
        shutil.rmtree(folder, ignore_errors=True)


def bare_headers(token: str, version: str) -> dict[str, str]:
    """The headers of a bare client's upsert."""
    return {
        "Authorization": f"Bearer {token}",
        "Version": version,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


def person(i: int, domain: str = "bench.example") -> dict[str, Any]:
    """
    One realistic, valid contact record in the API's field names.

    :param i: its number (makes e-mail and phone unique).
    :param domain: the e-mail domain (one per run keeps runs apart).
    """
    # The area code depends on the domain, so runs with different domains never match by phone either.
    area = 200 + zlib.crc32(domain.encode()) % 800
    return {
        "email": f"person.{i}@{domain}",
        "phone": f"+1{area}{i % 10_000_000:07d}",
        "firstName": f"First{i}",
        "lastName": ("Lovelace", "Hopper", "Turing", "Liskov")[i % 4],
        "tags": ["bench"],
    }


def people(count: int, domain: str = "bench.example") -> list[dict[str, Any]]:
    """
    ``count`` records from :func:`person`.

    :param count: how many.
    :param domain: the e-mail domain.
    """
    return [person(i, domain) for i in range(count)]


def count_by_email(handle: SandboxHandle, domain: str) -> dict[str, int]:
    """
    How many contacts the server holds per e-mail of a domain (to find lost and duplicated records).

    :param handle: the sandbox.
    :param domain: the e-mail domain of the run.
    """
    counts: dict[str, int] = {}
    for contact in handle.all_contacts():
        email = str(contact.get("email") or "")
        if email.endswith("@" + domain):
            counts[email] = counts.get(email, 0) + 1
    return counts


def lost_and_duplicated(handle: SandboxHandle, domain: str, expected: int) -> tuple[int, int]:
    """
    Records of a run missing from the server, and extra copies on it.

    :param handle: the sandbox.
    :param domain: the e-mail domain of the run.
    :param expected: how many records the run sent (``person(0..expected-1)``).
    """
    counts = count_by_email(handle, domain)
    lost = sum(1 for i in range(expected) if f"person.{i}@{domain}" not in counts)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    return lost, duplicated


def figure(name: str, value: Any, note: str = "") -> None:
    """
    Print one figure, aligned.

    :param name: what it is.
    :param value: its value (floats get 3 significant decimals).
    :param note: a remark after it.
    """
    text = f"{value:,.3f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
    print(f"  {name:<44} {text}{'  ' + note if note else ''}", flush=True)


def verdict(name: str, passed: bool, detail: str) -> bool:
    """
    Print the benchmark's one-line verdict.

    :param name: the benchmark.
    :param passed: whether every goal was met.
    :param detail: the figures against their goals.
    :return: ``passed``.
    """
    print(f"VERDICT {name}: {'PASS' if passed else 'FAIL'} - {detail}", flush=True)
    return passed


def machine() -> str:
    """One line about the machine: cores, memory, load, Python."""
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, {mem_kb / 1024**2:.1f} GiB RAM, load average {load[0]:.2f} {load[1]:.2f}, "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}"
    )


def rss_mb() -> tuple[float, float]:
    """This process's resident memory now and at its peak (``VmRSS``, ``VmHWM``) in MiB, from /proc."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, amount = line.split(":", 1)
            values[name] = int(amount.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


class _TaskInstance:
    """The parts of a task instance that ``SyncContactsOperator.execute`` uses outside a DAG run."""

    try_number = 1

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        """Keep a pushed value (XCom takes JSON only, so it is checked)."""
        json.dumps(value)
        self.xcom[key] = value


def operator_context() -> dict[str, Any]:
    """A minimal task context for executing an operator directly (first try of a run starting now)."""
    from datetime import datetime, timezone
    from types import SimpleNamespace

    return {
        "ti": _TaskInstance(),
        "dag_run": SimpleNamespace(run_after=datetime.now(timezone.utc), clear_number=0),
    }

"""Helpers for tests and benchmarks that run real servers: a free port, a deadline wait, an Airflow process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    """
    Return a TCP port that is free now (for a server started by another process).

    :param host: the interface.
    """
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """
    Poll ``condition`` (backing off from 20 ms to 250 ms) until it returns something truthy; return that.

    :param condition: the check; it may raise to give up early.
    :param timeout: seconds before giving up.
    :param what: what is awaited, for the error.
    :raises TimeoutError: naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


@contextmanager
def airflow_process(
    env: dict[str, str], log_dir: Path, *args: str, name: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """
    Run ``airflow <args>`` in a process group of its own, logging to ``<log_dir>/<name>.log``; stop the
    group (TERM, then KILL after 10 s) when the block ends, however it ends.

    :param env: its environment.
    :param log_dir: where its log goes.
    :param args: the command, e.g. ``"api-server", "--port", "8080"``.
    :param name: the log's name; ``args[0]`` by default.
    """
    log = (log_dir / f"{name or args[0]}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def wait_for_api_server(process: subprocess.Popen[bytes], api_url: str, timeout: float = 180) -> None:
    """
    Wait until an ``airflow api-server`` answers its health check; fail at once if its process exits.

    :param process: the server's process (from :func:`airflow_process`).
    :param api_url: its base URL.
    :param timeout: seconds before giving up.
    """
    import requests

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"airflow api-server exited ({process.returncode}); see its log")
        try:
            return requests.get(api_url + "/api/v2/monitor/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(healthy, timeout, "airflow api-server to answer")


def airflow_env(home: Path, **settings: str) -> dict[str, str]:
    """
    The environment of an Airflow of its own in ``home``: a SQLite metadata database, ``home/dags``, no
    example DAGs, one API worker, out of unit-test mode.

    :param home: its ``AIRFLOW_HOME``.
    :param settings: more variables (``AIRFLOW__SECTION__KEY`` or connections), added last.
    """
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__WORKERS": "1",
        **settings,
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    return env


def run_airflow(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    """
    Run ``airflow <args>`` to its end; return its output.

    :param env: its environment.
    :param args: the command, e.g. ``"dags", "test", "my_dag"``.
    :param timeout: seconds before it is stopped.
    :raises RuntimeError: it failed (with the end of its output).
    """
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"airflow {' '.join(args)} failed: {result.stdout[-1500:]} {result.stderr[-2500:]}"
        )
    return result.stdout


@contextmanager
def running_api_server(env: dict[str, str], log_dir: Path, timeout: float = 180) -> Iterator[str]:
    """
    Run ``airflow api-server`` on a free port of 127.0.0.1 until the block ends; yield its URL once it answers.

    :param env: its environment.
    :param log_dir: where its log (``api-server.log``) goes.
    :param timeout: seconds it may take to answer.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with airflow_process(env, log_dir, "api-server", "--host", "127.0.0.1", "--port", str(port)) as process:
        wait_for_api_server(process, url, timeout)
        yield url

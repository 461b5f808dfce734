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

"""Reading the body has a deadline, and the size limit holds when the body comes chunked."""

from __future__ import annotations

import select
import socket
from urllib.parse import urlsplit

import pytest

from .conftest import latest_delivery

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


def _connect(url: str) -> tuple[socket.socket, str]:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    return sock, parts.path


def _status(sock: socket.socket) -> int:
    """The status of the answer (waits for it: the socket's own timeout bounds the wait)."""
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return int(head.split(b" ", 2)[1])


def test_a_slow_sender_is_cut_off(security_world):
    """Headers and a few bytes of a 1000-byte body, then nothing: 408 (the test waits at most 60 s)."""
    sec = security_world
    sock, path = _connect(sec.url("sec_ed"))
    with sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'{"type": "Cont'
        )
        assert _status(sock) == 408
    assert latest_delivery(sec, "sec_ed") == ("refused", "slow_body", 408)


def test_the_size_limit_holds_for_a_chunked_body(security_world):
    """64 KiB chunks without end: the answer is 413 long before 64 MiB were sent."""
    sec = security_world
    sock, path = _connect(sec.url("sec_ed"))
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    sent = 0
    with sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        while sent < 64 * 1024 * 1024:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        assert _status(sock) == 413
    assert sent < 64 * 1024 * 1024

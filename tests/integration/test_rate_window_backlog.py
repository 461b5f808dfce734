"""A request that waits on its way for longer than a rate window keeps its slot until its answer.

The server counts a request when it reads it. A request stuck in a starved server's backlog (or a slow
network) for longer than a window is counted late; had the client handed its slot on a window after the
request's start, the late request would find the server's window full and be answered 429. This is what
ten locations at their full budget on a saturated two-core machine showed (issue 25). Here a TCP proxy
between the hook and the sandbox holds the bytes of one upsert for 1.6 windows.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest

from airflow_provider_contacts.hooks import MemoryTokenStore
from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.sandbox import SandboxHandle

WINDOW = 1.0
LIMIT = 5
BACKLOG = 1.6 * WINDOW


class BacklogProxy:
    """
    A TCP proxy that forwards everything at once, except the first upsert it sees: that request's bytes
    reach the server only ``backlog`` seconds after they reached the proxy.
    """

    def __init__(self, upstream: tuple[str, int], backlog: float) -> None:
        self.upstream = upstream
        self.backlog = backlog
        self.held = threading.Event()
        self._first = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []

    def serve(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, to_server: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if to_server and b"/contacts/upsert" in chunk and self._first.acquire(blocking=False):
                    # The simulated backlog: this request reaches the server late.
                    self._closing.wait(self.backlog)
                    self.held.set()
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closing.set()
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread
        self._listener.close()
        for each in self._sockets:
            each.close()


@contextmanager
def backlog_proxy(sb: SandboxHandle, backlog: float) -> Iterator[BacklogProxy]:
    host, port = sb.base_url.removeprefix("http://").split(":")
    proxy = BacklogProxy((host, int(port)), backlog)
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
        thread.join(timeout=5)


def test_a_request_held_on_its_way_beyond_the_window_draws_no_429(
    sandbox_factory: Callable[..., SandboxHandle], monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = sandbox_factory(seed=0, rate_limit=LIMIT, rate_interval=WINDOW)
    with backlog_proxy(sb, BACKLOG) as proxy:
        conn = json.loads(sb.conn_env())
        conn["host"] = f"http://127.0.0.1:{proxy.port}"
        conn["extra"]["max_retries"] = 0  # a 429 fails its record instead of being retried away
        monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_BACKLOG", json.dumps(conn))
        hook = ContactsHook("contacts_backlog", token_store=MemoryTokenStore())
        hook.transport.auth.access_token()
        sb.reset_stats()
        records = [{"email": f"backlog.{n}@example.com", "firstName": f"B{n}"} for n in range(12)]
        results = hook.upsert_contacts(records, max_workers=LIMIT)
        assert proxy.held.is_set(), "the proxy held one upsert for longer than a window"
    stats = sb.stats()
    assert stats["rate_limited_429"] == 0, "a slot was handed on while its request was still on its way"
    assert [r for r in results if not r["ok"]] == []
    assert max(stats["peak_requests_in_window"].values()) <= LIMIT

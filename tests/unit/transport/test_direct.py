"""The plain request's direct path: what reaches the server is what ``requests`` would send, a redirect and a
cookie go on as ``requests`` handles them, a failure is the ``requests`` error it would raise, and anything
not plain (a proxy, a mock) takes ``requests``' own path."""

from __future__ import annotations

import json
import math
import socket
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import requests_mock as rm

from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.transport.direct import DirectPath, as_requests_error
from airflow_provider_contacts.transport.session import new_session


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[dict[str, Any]] = []
        self.release = threading.Event()  # what /hold waits for
        self.together = threading.Barrier(3)  # what /together waits for: three requests in flight at once

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (the read-timeout test) is gone when /hold answers: nothing to report.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.served = getattr(self, "served", 0) + 1  # one handler per connection
        self.server.seen.append(
            {"method": self.command, "target": self.path, "headers": dict(self.headers.items()), "body": body}
        )
        path = self.path.split("?")[0]
        if path == "/closes-always" or (path == "/closes-kept-alive" and self.served > 1):
            self.close_connection = True  # closed with no byte of an answer, as an idle timeout closes
            return
        extra: dict[str, str] = {}
        status, answer = 200, b'{"ok": true}'
        if path == "/moved":
            status, extra = 307, {"Location": "/target"}
        elif path == "/away":  # the same server under another host name
            status, extra = 302, {"Location": f"http://localhost:{self.server.server_address[1]}/target"}
        elif path == "/cookie":
            extra = {"Set-Cookie": "edge=e1; Path=/"}
        elif path == "/hold":
            self.server.release.wait(timeout=30)
        elif path == "/together":
            self.server.together.wait(timeout=10)
        elif path == "/cut-when-kept-alive" and self.served > 1:
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b'{"ok"')  # an answer begun and cut off
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in {
            "Content-Type": "application/json",
            "Content-Length": str(len(answer)),
            **extra,
        }.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder()
    # A short poll: shutdown() waits for the loop to look.
    thread = threading.Thread(target=recorder.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        recorder.release.set()
        recorder.shutdown()
        recorder.server_close()
        thread.join(timeout=10)


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def by_requests_too(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the requests ``requests``' own ``Session.request`` sends."""
    sent: list[str] = []
    original = requests.Session.request

    def counted(self: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
        sent.append(url)
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", counted)
    return sent


HEADERS = {"Authorization": "Bearer t0ken", "Version": "2021-07-28", "Accept": "application/json"}

CASES = [
    ("POST", "/contacts/upsert", None, {"email": "zoë@example.com", "tags": ["a", "b"], "n": 1.5}),
    ("PUT", "/contacts/c 1/ü", None, {"firstName": "A"}),  # an id from the API with a space and a letter
    ("GET", "/contacts/", {"locationId": "loc1", "query": "a&b=c d", "tags": ["x", "y"], "skip": None}, None),
    ("DELETE", "/contacts/c1/tags", None, None),
    ("POST", "/contacts/c1/notes", None, None),
]


@pytest.mark.parametrize(("method", "path", "params", "body"), CASES)
def test_the_server_gets_what_requests_would_send(server: Recorder, method, path, params, body, monkeypatch):
    by_requests = by_requests_too(monkeypatch)
    session = new_session()
    direct = DirectPath(session).send(
        method, server.base + path, params=params, json=body, headers=HEADERS, timeout=10
    )
    assert by_requests == [], "a plain request goes straight to the pool"
    reference = session.request(
        method, server.base + path, params=params, json=body, headers=HEADERS, timeout=10
    )
    assert direct.status == reference.status_code == 200
    assert direct.content == reference.content and direct.headers["Content-Type"] == "application/json"
    ours, theirs = server.seen
    assert ours["method"] == theirs["method"] == method
    assert ours["target"] == theirs["target"], "the URL is prepared as requests prepares it"
    assert ours["body"] == theirs["body"]
    assert {k.lower(): v for k, v in ours["headers"].items()} == {
        k.lower(): v for k, v in theirs["headers"].items()
    }


def test_a_redirect_is_followed_as_requests_follows_it(server: Recorder, monkeypatch):
    by_requests_too(monkeypatch)
    path = DirectPath(new_session())
    answer = path.send("GET", server.base + "/moved", params=None, json=None, headers=HEADERS, timeout=10)
    assert answer.status == 200
    assert [seen["target"] for seen in server.seen] == ["/moved", "/target"]
    assert server.seen[1]["headers"]["Authorization"] == "Bearer t0ken", "the same host keeps the token"
    path.send("GET", server.base + "/away", params=None, json=None, headers=HEADERS, timeout=10)
    assert server.seen[-1]["target"] == "/target" and server.seen[-1]["headers"]["Host"].startswith(
        "localhost"
    )
    assert "Authorization" not in server.seen[-1]["headers"], "another host: the token is dropped"


def test_a_cookie_is_kept_and_sent_back_by_requests(server: Recorder, monkeypatch):
    by_requests = by_requests_too(monkeypatch)
    session = new_session()
    path = DirectPath(session)
    path.send("GET", server.base + "/cookie", params=None, json=None, headers=HEADERS, timeout=10)
    assert session.cookies.get("edge") == "e1"
    path.send("GET", server.base + "/next", params=None, json=None, headers=HEADERS, timeout=10)
    assert server.seen[-1]["headers"]["Cookie"] == "edge=e1"
    assert by_requests == [server.base + "/next"], "a session with cookies takes requests' own path"


def test_a_proxy_takes_requests_own_path(server: Recorder, monkeypatch):
    # The recorder stands in for the proxy: a proxied request names the whole URL in its request line.
    monkeypatch.setenv("HTTP_PROXY", server.base)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    answer = DirectPath(new_session()).send(
        "GET", "http://api.test/contacts/c1", params=None, json=None, headers=HEADERS, timeout=10
    )
    assert answer.status == 200
    assert server.seen[-1]["target"] == "http://api.test/contacts/c1"


def test_a_mocked_session_is_answered_by_the_mock(requests_mock: rm.Mocker):
    requests_mock.get("https://api.test/contacts/c1", json={"contact": {"id": "c1"}})
    answer = DirectPath(new_session()).send(
        "GET", "https://api.test/contacts/c1", params=None, json=None, headers=HEADERS, timeout=10
    )
    assert answer.json_object() == {"contact": {"id": "c1"}}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def failure_of(send: Any) -> type[BaseException]:
    with pytest.raises(requests.exceptions.RequestException) as caught:
        send()
    return type(caught.value)


def test_a_refused_connection_is_the_error_requests_raises():
    url = f"http://127.0.0.1:{closed_port()}/contacts/c1"
    ours = failure_of(
        lambda: DirectPath(new_session()).send("GET", url, params=None, json=None, headers=HEADERS, timeout=5)
    )
    theirs = failure_of(lambda: new_session().get(url, headers=HEADERS, timeout=5))
    assert ours is theirs is requests.exceptions.ConnectionError


def test_a_read_timeout_is_the_error_requests_raises(server: Recorder):
    url = server.base + "/hold"
    ours = failure_of(
        lambda: DirectPath(new_session()).send(
            "GET", url, params=None, json=None, headers=HEADERS, timeout=0.2
        )
    )
    theirs = failure_of(lambda: new_session().get(url, headers=HEADERS, timeout=0.2))
    assert ours is theirs is requests.exceptions.ReadTimeout


def test_a_header_value_that_would_split_the_request_is_refused(server: Recorder):
    path = DirectPath(new_session())
    with pytest.raises(requests.exceptions.InvalidHeader):
        path.send(
            "GET",
            server.base + "/x",
            params=None,
            json=None,
            headers={**HEADERS, "Authorization": "Bearer t0ken\r\nX-Injected: 1"},
            timeout=5,
        )
    assert server.seen == [], "nothing was sent"


def test_headers_checked_once_still_follow_every_change_and_refuse_every_bad_value(server: Recorder):
    session = new_session()
    path = DirectPath(session)

    def send(headers: dict[str, Any], body: Any = None) -> dict[str, str]:
        path.send("POST", server.base + "/x", params=None, json=body, headers=headers, timeout=5)
        return server.seen[-1]["headers"]

    assert send(HEADERS, {"a": 1})["Content-Type"] == "application/json"
    assert send(HEADERS, {"a": 12345})["Content-Length"] == str(len(b'{"a": 12345}')), "each body its length"
    assert send({**HEADERS, "Authorization": "Bearer rotated"}, {"a": 1})["Authorization"] == "Bearer rotated"
    session.headers["X-Edge"] = "e1"  # a session edited between two requests
    assert send(HEADERS)["X-Edge"] == "e1"
    assert send(HEADERS)["Content-Length"] == "0"
    bad = {**HEADERS, "Authorization": "Bearer t0ken\r\nX-Injected: 1"}
    for _ in range(2):  # refused every time: a refused value is never kept as checked
        with pytest.raises(requests.exceptions.InvalidHeader):
            send(bad)
    with pytest.raises(requests.exceptions.InvalidHeader):
        send({**HEADERS, "Version": ["not", "a", "string"]})
    assert len(server.seen) == 5


def test_a_body_that_is_not_json_is_refused_as_requests_refuses_it(server: Recorder):
    with pytest.raises(requests.exceptions.InvalidJSONError):
        DirectPath(new_session()).send(
            "POST", server.base + "/x", params=None, json={"n": math.nan}, headers=HEADERS, timeout=5
        )
    assert server.seen == []


def test_an_error_requests_lets_through_stays_itself():
    error = KeyError("not urllib3's")
    assert as_requests_error(error) is error


def test_a_failures_kind_names_what_it_wraps_and_none_of_its_text():
    # The retry log line and the final error name the chain (a refused connection and one the server dropped
    # read differently), never the URL: its query can hold an e-mail address.
    from airflow_provider_contacts.transport.core import failure_kind

    url = f"http://127.0.0.1:{closed_port()}/contacts/"
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        DirectPath(new_session()).send(
            "GET", url, params={"query": "someone@example.com"}, json=None, headers=HEADERS, timeout=5
        )
    kind = failure_kind(caught.value)
    assert kind.startswith("ConnectionError < ") and kind.endswith("ConnectionRefusedError")
    assert "example" not in kind and "127.0.0.1" not in kind and "contacts" not in kind


def send_to(path: str, server: Recorder, *, idempotent: bool, direct: DirectPath | None = None) -> int:
    direct = direct or DirectPath(new_session())
    url = server.base + path
    return direct.send(
        "GET", url, params=None, json=None, headers=HEADERS, timeout=5, idempotent=idempotent
    ).status


def test_a_kept_alive_connection_closed_by_the_server_is_replaced_for_an_idempotent_call(server: Recorder):
    direct = DirectPath(new_session())
    assert send_to("/closes-kept-alive", server, idempotent=True, direct=direct) == 200
    # The second finds its connection closed as it goes out, and is sent again on a new one.
    assert send_to("/closes-kept-alive", server, idempotent=True, direct=direct) == 200
    assert len(server.seen) == 3


def test_a_new_connection_closed_without_an_answer_is_not_sent_again(server: Recorder):
    # The server read it on a connection opened for it: it may have acted on it.
    with pytest.raises(requests.exceptions.ConnectionError):
        send_to("/closes-always", server, idempotent=True)
    assert len(server.seen) == 1


@pytest.mark.parametrize(
    ("path", "idempotent"),
    [
        ("/closes-kept-alive", False),  # RFC 9110, 9.2.2: only an idempotent request is resent by itself
        ("/cut-when-kept-alive", True),  # an answer begun: the server read and processed it
    ],
    ids=["not idempotent", "answer cut off"],
)
def test_a_failure_on_a_kept_alive_connection_is_not_sent_again(server: Recorder, path, idempotent):
    direct = DirectPath(new_session())
    assert send_to(path, server, idempotent=idempotent, direct=direct) == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        send_to(path, server, idempotent=idempotent, direct=direct)
    assert len(server.seen) == 2


def test_every_closed_kept_alive_connection_is_replaced(server: Recorder):
    direct = DirectPath(new_session())
    with ThreadPoolExecutor(3) as pool:  # three connections kept alive
        assert (
            list(pool.map(lambda _: send_to("/together", server, idempotent=True, direct=direct), range(3)))
            == [200] * 3
        )
    before = len(server.seen)
    # The last one kept is closed by the server as the request goes out on it; a new one answers.
    assert send_to("/closes-kept-alive", server, idempotent=True, direct=direct) == 200
    assert len(server.seen) - before == 2
    # The next finds the one it takes closed too, and so on: each is replaced as it is found.
    assert send_to("/closes-kept-alive", server, idempotent=True, direct=direct) == 200
    assert len(server.seen) - before == 4


def test_a_call_sent_again_on_a_new_connection_takes_one_rate_slot(server: Recorder, monkeypatch):
    extra = {"location_id": "loc1", "auth_type": "private_token", "retry_backoff": 0}
    conn = {"conn_type": "contacts", "host": server.base, "password": "pit-direct-0001", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DIRECT", json.dumps(conn))
    hook = ContactsHook("contacts_direct")
    assert hook.request("GET", "/closes-kept-alive") == {"ok": True}
    assert hook.request("GET", "/closes-kept-alive") == {"ok": True}
    assert len(server.seen) == 3  # the second went out twice: on the closed connection, then on a new one
    assert hook.requests_sent == 2
    assert len(hook.limiter._recent) == 2, "the server never read the first copy: it takes no slot of its own"


def test_the_pool_is_asked_for_once_and_again_after_it_was_closed(server: Recorder, monkeypatch):
    session = new_session()
    direct = DirectPath(session)
    manager = session.get_adapter(server.base).poolmanager
    asked: list[str] = []
    original = type(manager).connection_from_host

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(str(args or kwargs.get("host")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(manager), "connection_from_host", counted)
    for _ in range(5):
        assert send_to("/contacts/", server, idempotent=True, direct=direct) == 200
    assert len(asked) == 1, "the origin's pool is kept, not looked up for every request"
    session.close()  # the adapter closes its pools (as an evicted pool is closed)
    assert send_to("/contacts/", server, idempotent=True, direct=direct) == 200, "a closed pool is not used"
    assert len(asked) == 2 and len(server.seen) == 6

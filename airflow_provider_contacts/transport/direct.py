"""
The plain request's path: straight to the ``urllib3`` connection pool that the session's adapter keeps.

At ten locations' full budget one process sends a thousand requests at each window's start, and the client's
CPU decides how soon that burst is out; each location's last window ends that much later (every rate slot
comes back a window after its first use). ``requests`` prepares, sends and wraps a request in layers that
cost as much again as ``urllib3``'s own work (``benchmarks/burst.py``). A request of the kind the hook sends
(a JSON body or none, the session's headers, no proxy, no cookies, no response hooks) goes straight to the
pool the session's :class:`~requests.adapters.HTTPAdapter` keeps: the same pools, TLS settings, retries
setting and keep-alive connections. Its URL is prepared by ``requests``, its header values checked by
``requests``' rule, and its errors become the ``requests`` exceptions the adapter raises for them. An answer
that redirects or sets a cookie is handed to ``requests`` to follow or keep.

A request of an idempotent call that finds its kept-alive connection closed by the server before any byte of
an answer (the server's idle timeout firing as the request went out) is sent again at once on a new
connection, within the same attempt: the server never read it, so it takes no second rate slot.

Anything else takes ``requests``' whole path: a proxy, the session's own auth, params or response hooks,
cookies, another adapter mounted, or a test's mock (``requests_mock`` replaces ``Session.send``).
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

import requests
from requests import compat
from requests.adapters import HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from requests.exceptions import (
    ConnectionError,
    ConnectTimeout,
    InvalidHeader,
    InvalidJSONError,
    ReadTimeout,
    RetryError,
    SSLError,
)
from requests.sessions import REDIRECT_STATI
from requests.structures import CaseInsensitiveDict
from requests.utils import check_header_validity, select_proxy
from urllib3 import Timeout
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.exceptions import (
    InvalidHeader as Urllib3InvalidHeader,
)
from urllib3.exceptions import (
    SSLError as Urllib3SSLError,
)

from airflow_provider_contacts.transport.core import Answer
from airflow_provider_contacts.transport.session import (
    POOL_MAXSIZE,
    BearerSession,
    OriginAdapter,
    last_connection_was_reused,
    merged_setting,
    origin_key,
)

log = logging.getLogger(__name__)


#: The adapter methods whose work the direct path does: an adapter that changes one takes requests' path.
_ADAPTER_METHODS = ("send", "get_connection_with_tls_context", "cert_verify", "request_url", "add_headers")

#: Distinct sets of headers the direct path keeps checked, at most.
_HEADER_SETS_KEPT = 64

#: The most kept-alive connections one request finds closed before it goes out on a new one (each is
#: discarded; a pool keeps at most this many).
_MOST_CLOSED_CONNECTIONS = POOL_MAXSIZE


class _Route:
    """An origin's adapter and pool key, and the pool they name once it has been asked for."""

    __slots__ = ("adapter", "closings", "host", "pool", "pool_kwargs")

    def __init__(self, adapter: HTTPAdapter, host: Any, pool_kwargs: Any) -> None:
        self.adapter = adapter
        self.host = host
        self.pool_kwargs = pool_kwargs
        self.pool: Any = None
        self.closings = -1

    def connection_pool(self) -> Any:
        """
        The origin's pool, as the adapter's pool manager hands it out. An :class:`OriginAdapter`'s is kept
        until the adapter is closed: asking the manager each time takes its lock and builds its key again
        (about 3 % of a request's CPU in a profile of ten locations' window bursts). Another adapter's is
        asked for each time.
        """
        adapter = self.adapter
        closings = getattr(adapter, "closings", None)
        pool = self.pool
        if closings is None or closings != self.closings or pool is None or pool.pool is None:
            pool = adapter.poolmanager.connection_from_host(**self.host, pool_kwargs=self.pool_kwargs)
            if closings is not None:
                self.pool, self.closings = pool, closings
        return pool


class DirectPath:
    """
    Sends a plain request of one session straight to its adapter's connection pool.

    :param session: the transport's session; only a
        :class:`~airflow_provider_contacts.transport.session.BearerSession` (which reads no ``~/.netrc``) has
        its plain requests sent directly.
    """

    def __init__(self, session: requests.Session) -> None:
        self.session = session
        # origin -> its adapter and pool key, or None when requests' own path must send to it
        self._routes: dict[str, _Route | None] = {}
        self._lock = threading.Lock()
        # (the request's headers, the session's, whether a JSON body goes) -> the headers checked, merged
        self._headers: dict[tuple[Any, ...], dict[str, str]] = {}

    def send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str],
        timeout: float | tuple[float, float],
        idempotent: bool = False,
    ) -> Answer:
        """
        Send one request, by the direct path when it is plain, else by ``requests``.

        :param method: the HTTP method, upper case.
        :param url: the full URL, without the query.
        :param params: the query parameters.
        :param json: the JSON body, or None for none.
        :param headers: the request's own headers (the session's are added).
        :param timeout: connect and read timeout, in seconds.
        :param idempotent: whether the call may be sent again when a kept-alive connection turns out closed
            before any byte of its answer (RFC 9110, 9.2.2: only an idempotent request is resent by itself).
        :raises requests.exceptions.RequestException: what ``requests`` raises for the same failure.
        """
        route = self._route(url)
        if route is None:
            response = self.session.request(
                method, url, params=params, json=json, headers=headers, timeout=timeout
            )
            # Read here: a body cut off is a request without an answer, like a refused connection.
            return Answer(response.status_code, response.headers, response.content, response.reason or "")
        full_url, target = prepared_url(url, params) if params else _prepared_bare_url(url)
        body: bytes | None = None
        wire = dict(self._checked_headers(headers, json is not None))
        if json is not None:
            try:
                text = compat.json.dumps(json, allow_nan=False)  # type: ignore[attr-defined]  # as requests encodes
            except ValueError as error:
                raise InvalidJSONError(error) from None
            body = text.encode("utf-8")
            wire["Content-Length"] = str(len(body))
        elif method not in ("GET", "HEAD"):
            wire["Content-Length"] = "0"  # as requests sends it (urllib3 would not, for DELETE)
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        closed_found = 0
        while True:
            try:
                answer = route.connection_pool().urlopen(
                    method=method,
                    url=target,
                    body=body,
                    headers=wire,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=True,
                    decode_content=True,
                    retries=route.adapter.max_retries,
                    timeout=Timeout(connect=connect, read=read),
                    chunked=False,
                )
            except Exception as error:
                if idempotent and closed_found < _MOST_CLOSED_CONNECTIONS and closed_while_idle(error):
                    closed_found += 1
                    log.debug(
                        "%s %s: the server had closed the kept-alive connection; sent again", method, target
                    )
                    continue
                mapped = as_requests_error(error)
                if mapped is error:
                    raise
                raise mapped from None
            break
        if (
            answer.status in REDIRECT_STATI and "location" in answer.headers
        ) or "set-cookie" in answer.headers:
            return self._hand_over(method, full_url, answer, json=json, headers=headers, timeout=timeout)
        return Answer(answer.status, answer.headers, answer.data, answer.reason or "")

    def _checked_headers(self, headers: dict[str, str], json_body: bool) -> dict[str, str]:
        """
        The request's headers merged over the session's as ``BearerSession`` merges them, a JSON body's
        ``Content-Type`` added unless given, any ``Content-Length`` left out (the body's own is set), each
        header checked by ``requests``' rule. Kept per distinct headers: a bulk job sends the same ones
        thousands of times, and merging and checking them took about 5 % of a request's CPU in a profile of
        ten locations' window bursts.

        :param headers: the request's own headers.
        :param json_body: whether a JSON body goes with them.
        """
        key = (tuple(headers.items()), tuple(self.session.headers.items()), json_body)
        try:
            checked = self._headers.get(key)
            keep = True
        except TypeError:  # a value that is not a string: requests' rule refuses it below
            checked, keep = None, False
        if checked is None:
            merged = merged_setting(headers, self.session.headers, CaseInsensitiveDict)
            if json_body:
                merged.setdefault("Content-Type", "application/json")
            merged.pop("Content-Length", None)
            for header in merged.items():
                check_header_validity(header)  # type: ignore[type-var]  # requests' own rule for a header
            checked = dict(merged.items())
            if keep:
                if len(self._headers) >= _HEADER_SETS_KEPT:  # tokens rotated, or headers that differ per call
                    self._headers.clear()
                self._headers[key] = checked
        return checked

    def _route(self, url: str) -> _Route | None:
        """The pool of a URL's origin, or None when ``requests``' own path must send it."""
        session = self.session
        if not (isinstance(session, BearerSession) and _plain(session)):
            return None
        adapter = session.get_adapter(url)
        if not isinstance(adapter, HTTPAdapter) or not all(
            _own(getattr(type(adapter), name, None), "requests.adapters", f"HTTPAdapter.{name}")
            or getattr(type(adapter), name, None) is getattr(OriginAdapter, name)  # its TLS context's rule
            for name in _ADAPTER_METHODS
        ):
            return None
        origin = origin_key(url)
        route = self._routes.get(origin)
        if origin not in self._routes or (route is not None and route.adapter is not adapter):
            with self._lock:
                settings = session.merge_environment_settings(url, {}, False, None, None)
                route = None
                if not select_proxy(url, settings["proxies"]):
                    probe = requests.PreparedRequest()
                    probe.url = url
                    host, pool_kwargs = adapter.build_connection_pool_key_attributes(
                        probe, settings["verify"], settings["cert"]
                    )
                    route = _Route(adapter, host, pool_kwargs)
                self._routes[origin] = route
        return route

    def _hand_over(
        self,
        method: str,
        full_url: str,
        answer: Any,
        *,
        json: Any,
        headers: dict[str, str],
        timeout: float | tuple[float, float],
    ) -> Answer:
        """Keep an answer's cookies and follow its redirect as ``requests``' ``Session.send`` would."""
        session = self.session
        prepared = session.prepare_request(requests.Request(method, full_url, json=json, headers=headers))
        extract_cookies_to_jar(session.cookies, prepared, answer)
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.raw = answer
        response.reason = answer.reason
        response.url = full_url
        response.request = prepared
        response._content = answer.data  # read already (the redirect's body is discarded by requests)
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        settings: Any = session.merge_environment_settings(full_url, {}, False, None, None)
        history = list(
            session.resolve_redirects(
                response,
                prepared,
                stream=False,
                timeout=timeout,
                verify=settings["verify"],
                cert=settings["cert"],
                proxies=settings["proxies"],
            )
        )
        final = history[-1] if history else response
        return Answer(final.status_code, final.headers, final.content, final.reason or "")


def _own(function: Any, module: str, qualname: str) -> bool:
    """Whether a method is ``requests``' own, not a mock's replacement."""
    return (
        getattr(function, "__module__", None) == module
        and getattr(function, "__qualname__", None) == qualname
    )


def _plain(session: requests.Session) -> bool:
    """Whether ``requests``' session would add nothing to a request but its headers."""
    own = vars(session)
    return (
        "send" not in own
        and "request" not in own
        and _own(type(session).send, "requests.sessions", "Session.send")
        and not session.cookies
        and session.auth is None
        and not session.params
        and not session.proxies
        and not any(session.hooks.values())
    )


def prepared_url(url: str, params: dict[str, Any] | None = None) -> tuple[str, str]:
    """
    A URL with its query as ``requests`` prepares it (IDNA host, percent-encoding, the query encoded), and the
    request target (path and query) that goes on the wire.

    :param url: the URL.
    :param params: the query parameters.
    """
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, params)
    return str(prepared.url), prepared.path_url


#: A URL without a query is prepared once (the hook sends one URL again and again).
_prepared_bare_url = lru_cache(maxsize=1024)(prepared_url)


def closed_while_idle(error: Exception) -> bool:
    """
    Whether ``urlopen`` failed because the kept-alive connection it took had been closed by the server: the
    connection had served before, and it was reset or ended before the first byte of an answer (not an
    answer cut off, not a timeout). A server closes an idle connection only when no request is being read,
    so the request was not processed. Read right after ``urlopen`` on the same thread.

    :param error: what ``urlopen`` raised.
    """
    # urllib3 words a failure before an answer "Connection aborted.", one in the middle of an answer "broken".
    return (
        isinstance(error, ProtocolError)
        and error.args[:1] == ("Connection aborted.",)
        and len(error.args) == 2
        and isinstance(error.args[1], (ConnectionResetError, BrokenPipeError, ConnectionAbortedError))
        and last_connection_was_reused()
    )


def as_requests_error(error: Exception) -> Exception:
    """
    The exception ``requests``' :meth:`~requests.adapters.HTTPAdapter.send` raises for an error of
    ``urllib3``'s ``urlopen``; any other error unchanged.

    :param error: what ``urlopen`` raised.
    """
    if isinstance(error, MaxRetryError):
        reason = error.reason
        if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
            return ConnectTimeout(error)
        if isinstance(reason, ResponseError):
            return RetryError(error)
        if isinstance(reason, Urllib3SSLError):
            return SSLError(error)
        return ConnectionError(error)
    if isinstance(error, (ProtocolError, OSError, ClosedPoolError)):
        return ConnectionError(error)
    if isinstance(error, Urllib3SSLError):
        return SSLError(error)
    if isinstance(error, ReadTimeoutError):
        return ReadTimeout(error)
    if isinstance(error, Urllib3InvalidHeader):
        return InvalidHeader(error)
    return error  # as requests' adapter lets it through


__all__ = ["DirectPath", "as_requests_error", "closed_while_idle", "prepared_url"]

"""
The keep-alive HTTP session of a transport: a ``requests`` session and adapter that do per origin what
``requests`` does per request, and read no ``~/.netrc``. :mod:`~airflow_provider_contacts.transport.direct`
sends the plain requests over the same pools.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Mapping
from http.cookiejar import CookieJar
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar, cookiejar_from_dict, merge_cookies
from requests.sessions import merge_hooks, merge_setting
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.ssl_ import create_urllib3_context

from airflow_provider_contacts.transport.settings import context_trusting, environment_ca_bundle


class BearerSession(requests.Session):
    """
    A ``requests`` session for an API that authenticates every request with a bearer token.

    Three things ``requests`` does before every request are done differently, for the cost of a request
    (at ten locations' full budget a thousand requests go out of one process at each window's start, and
    the client's CPU decides how soon the burst is out) and, in one case, for correctness:

    - the environment's proxy and CA-bundle settings (``HTTPS_PROXY``, ``NO_PROXY``,
      ``REQUESTS_CA_BUNDLE``, ...) are read once per origin, not twice per request (every environment
      variable is scanned each time); a worker process reads its environment at start;
    - ``~/.netrc`` is not consulted, neither for a request nor after a redirect: ``requests`` would put a
      matching entry's (or a ``default`` entry's) Basic credentials in place of the request's bearer token;
    - the session's cookies are handed to the request to read, not copied into a new jar for each one.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, bool | None], Any] = {}
        self._environment_lock = threading.Lock()

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """
        :meth:`requests.Session.prepare_request` without the ``~/.netrc`` lookup and the cookie copy.

        :param request: the request.
        """
        cookies: Any = request.cookies
        if cookies:
            if not isinstance(cookies, CookieJar):
                cookies = cookiejar_from_dict(cookies)
            cookies = merge_cookies(merge_cookies(RequestsCookieJar(), self.cookies), cookies)
        else:
            cookies = self.cookies  # only read while the request is prepared (its Cookie header)
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=str(request.method).upper(),
            url=request.url,
            files=request.files,
            data=request.data,
            json=request.json,
            headers=merged_setting(request.headers, self.headers, CaseInsensitiveDict),
            # An empty mapping would still cost requests' parameter encoding its protocol checks.
            params=merged_setting(request.params, self.params, dict) or None,
            auth=merge_setting(request.auth, self.auth),
            cookies=cookies,
            hooks=merge_hooks(request.hooks, self.hooks),
        )
        return prepared

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """
        On a redirect, drop the ``Authorization`` header when the host changes, as ``requests`` does, and add
        nothing from ``~/.netrc`` (``requests`` would, for the new URL, whatever the host).

        :param prepared_request: the redirected request.
        :param response: the redirect.
        """
        headers = prepared_request.headers
        if "Authorization" in headers and self.should_strip_auth(
            str(response.request.url), str(prepared_request.url)
        ):
            del headers["Authorization"]

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        """
        :meth:`requests.Session.merge_environment_settings`, read once per origin for plain requests.

        :param url: the request's URL.
        :param proxies: the request's own proxies (then nothing is cached).
        :param stream: the request's ``stream``.
        :param verify: the request's own ``verify`` (then nothing is cached).
        :param cert: the request's own ``cert`` (then nothing is cached).
        """
        if proxies or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        key = (origin_key(str(url)), stream)
        with self._environment_lock:
            found = self._environment.get(key)
            if found is None:
                if key[0].startswith("https:") and self.trust_env:
                    environment_ca_bundle()  # a bundle that is not there: an error naming the variable
                found = super().merge_environment_settings(url, {}, stream, verify, cert)
                adapter = self.get_adapter(str(url)) if key[0].startswith("https:") else None
                if (
                    isinstance(adapter, OriginAdapter)
                    and found["cert"] is None
                    and found["verify"] is not None
                ):
                    # Loaded here, before any request: an unreadable bundle is an error naming it (in the
                    # adapter, requests would turn it into an InvalidURL).
                    adapter.tls_context(found["verify"])
                self._environment[key] = found
        return {**found, "proxies": dict(found["proxies"])}


def origin_key(url: str) -> str:
    """
    ``scheme://netloc`` of a URL as written: a cache key per origin, cheaper than parsing the URL (two
    spellings of one origin only make two entries).

    :param url: the URL.
    """
    scheme, _, rest = url.partition("://")
    for end in "/?#":
        rest = rest.split(end, 1)[0]
    return f"{scheme.lower()}://{rest.lower()}"


def merged_setting(asked: Any, default: Any, kind: type) -> Any:
    """
    :func:`requests.sessions.merge_setting` for two mappings, without its runtime protocol checks (a tenth
    of a millisecond per request with ``requests`` 2.34); anything else goes to it.

    :param asked: the request's own setting (a None value removes the default's key).
    :param default: the session's setting.
    :param kind: the mapping type to return.
    """
    if not (isinstance(asked, Mapping) and isinstance(default, Mapping)):
        return merge_setting(asked, default, dict_class=kind)
    merged = kind(default)
    merged.update(asked)
    for key, value in asked.items():
        if value is None:  # a request's None removes the session's setting
            del merged[key]
    return merged


#: Connections a transport's pool keeps per origin: room for the most requests a transport runs at once.
POOL_MAXSIZE = 64
_last_connection = threading.local()


def last_connection_was_reused() -> bool:
    """
    Whether the connection the calling thread last took from a pool of an :class:`OriginAdapter` had
    served a request before (kept alive), rather than being opened for it.
    """
    return bool(getattr(_last_connection, "reused", False))


class _TellsReuse(HTTPConnectionPool):
    """A connection pool that notes, for the calling thread, whether the connection it hands out is kept alive."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        # urllib3 has already closed a pooled connection the server was seen to close; an open one served before.
        _last_connection.reused = not conn.is_closed
        return conn


class ReuseAwareHTTPPool(_TellsReuse):
    """``urllib3``'s HTTP pool, telling :func:`last_connection_was_reused`."""


class ReuseAwareHTTPSPool(_TellsReuse, HTTPSConnectionPool):
    """``urllib3``'s HTTPS pool, telling :func:`last_connection_was_reused`."""


class OriginAdapter(HTTPAdapter):
    """
    An :class:`~requests.adapters.HTTPAdapter` that works out a connection pool's key once per origin, CA
    bundle and client certificate instead of once per request (a URL parse, and a file-system ``isdir``
    whenever the CA bundle is a path, as ``REQUESTS_CA_BUNDLE`` makes it), and whose pools tell whether a
    request went over a kept-alive connection (:func:`last_connection_was_reused`).

    Its HTTPS pools share one TLS context per CA bundle, loaded once. ``requests`` hands each pool the
    bundle's path instead, and ``urllib3`` then builds a context and parses the whole bundle for every new
    connection: 17 to 19 ms of CPU with ``certifi``'s (``benchmarks/tls_connections.py``), where the
    handshake and the request take about 2 ms. A batch opens up to 64 connections per location at once, so
    ten agency locations spent some eleven seconds of CPU inside their first window. The context trusts exactly
    what ``requests`` would (its own bundle for ``verify=True``, else the file or directory given) and checks
    the host name as ``urllib3`` does; a pool with a client certificate keeps ``requests``' way.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool_keys: dict[tuple[str, Any, Any], Any] = {}
        self._tls_contexts: dict[str, ssl.SSLContext] = {}
        self._tls_lock = threading.Lock()

    #: How many times :meth:`close` has run: a pool handed out before is not to be used again (urllib3 2
    #: forgets the pools when its manager is cleared, and closes none of them).
    closings = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # type: ignore[misc]  # defined by requests, not in its stubs
        self._pool_keys = {}
        self._tls_contexts = {}
        self._tls_lock = threading.Lock()

    def close(self) -> None:
        """:meth:`requests.adapters.HTTPAdapter.close`, and every pool handed out so far is done with."""
        super().close()
        self.closings += 1

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """
        :meth:`requests.adapters.HTTPAdapter.init_poolmanager`, with pools that tell whether a connection was
        kept alive.

        :param connections: how many pools to keep.
        :param maxsize: connections kept per pool.
        :param block: whether to wait for a free connection rather than open another.
        :param pool_kwargs: what else the pools get.
        """
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": ReuseAwareHTTPPool, "https": ReuseAwareHTTPSPool}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> Any:
        """
        :meth:`requests.adapters.HTTPAdapter.build_connection_pool_key_attributes`, remembered per origin.

        :param request: the request.
        :param verify: the CA bundle, or whether to verify.
        :param cert: the client certificate.
        """
        key = (origin_key(str(request.url)), verify, tuple(cert) if isinstance(cert, list) else cert)
        found = self._pool_keys.get(key)
        if found is None:
            host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
            context = self.tls_context(verify) if host["scheme"] == "https" and cert is None else None
            if context is not None:
                pool.pop("ca_certs", None)
                pool.pop("ca_cert_dir", None)
                pool["ssl_context"] = context
            found = self._pool_keys[key] = (host, pool)
        host, pool = found
        return {**host}, {**pool}  # copies: urllib3 is free to change what it is given

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        """
        :meth:`requests.adapters.HTTPAdapter.cert_verify`, except that a pool holding this adapter's TLS
        context for the bundle is not given the bundle's path again (``urllib3`` would load it into the
        context for every new connection).

        :param conn: the connection pool.
        :param url: the request's URL.
        :param verify: the CA bundle, or whether to verify.
        :param cert: the client certificate.
        """
        super().cert_verify(conn, url, verify, cert)
        context = getattr(conn, "conn_kw", {}).get("ssl_context")  # what the pool gives its connections
        if context is not None and verify is not False and context is self._tls_contexts.get(_bundle(verify)):
            conn.ca_certs = conn.ca_cert_dir = None

    def tls_context(self, verify: bool | str) -> ssl.SSLContext | None:
        """
        This adapter's TLS context for a CA bundle, loaded on first use; None without verification, or
        when the bundle is missing (``requests`` then raises its own error, naming the path).

        :param verify: the CA bundle, or whether to verify.
        :raises ContactsConfigError: the bundle cannot be read, or holds no certificate (as the async face's).
        """
        if verify is False:
            return None
        location = _bundle(verify)
        with self._tls_lock:
            context = self._tls_contexts.get(location)
            if context is None:
                if not os.path.exists(location):
                    return None
                context = context_trusting(location, create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED))
                self._tls_contexts[location] = context
        return context


def _bundle(verify: bool | str) -> str:
    """The CA bundle ``requests`` trusts for a ``verify`` value: its own for True, else the path given."""
    return DEFAULT_CA_BUNDLE_PATH if verify is True else str(verify)


def new_session() -> requests.Session:
    """A keep-alive session with room for the most requests a transport runs at once."""
    session = BearerSession()
    adapter = OriginAdapter(pool_connections=4, pool_maxsize=POOL_MAXSIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


__all__ = [
    "POOL_MAXSIZE",
    "BearerSession",
    "OriginAdapter",
    "ReuseAwareHTTPPool",
    "ReuseAwareHTTPSPool",
    "last_connection_was_reused",
    "merged_setting",
    "new_session",
    "origin_key",
]

"""
The transport of one connection in one process, and its synchronous face over ``requests``.

A :class:`Transport` owns what must exist once per connection and process: the settings, the token
provider (one refresh at a time), the rate limiter (one budget), the keep-alive session, and the measured
latency. Every hook, sensor and trigger of the connection gets the same one from
:func:`~airflow_provider_contacts.transport.registry.get_transport`; the async face
(:attr:`Transport.aio`) shares all of it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from http.cookiejar import CookieJar
from typing import Any

import requests
import tenacity
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar, cookiejar_from_dict, merge_cookies
from requests.sessions import merge_hooks, merge_setting
from requests.structures import CaseInsensitiveDict

from airflow_provider_contacts.api_versions import for_connection
from airflow_provider_contacts.auth import (
    FileTokenStore,
    LocationTokenProvider,
    OAuthTokenProvider,
    StaticTokenProvider,
    TokenProvider,
    TokenStore,
    VariableTokenStore,
    never_sent,
)
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.retries import Retry, retry_policy
from airflow_provider_contacts.transport.core import (
    Answer,
    Call,
    check_granted,
    classify,
    no_answer,
)
from airflow_provider_contacts.transport.limiter import RollingWindowLimiter
from airflow_provider_contacts.transport.settings import ContactsSettings, environment_ca_bundle

log = logging.getLogger(__name__)

#: Weight of the newest sample in the latency average.
_LATENCY_WEIGHT = 0.2


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
            headers=_merged(request.headers, self.headers, CaseInsensitiveDict),
            # An empty mapping would still cost requests' parameter encoding its protocol checks.
            params=_merged(request.params, self.params, dict) or None,
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
        key = (_origin_key(str(url)), stream)
        with self._environment_lock:
            found = self._environment.get(key)
            if found is None:
                if key[0].startswith("https:") and self.trust_env:
                    environment_ca_bundle()  # a bundle that is not there: an error naming the variable
                found = super().merge_environment_settings(url, {}, stream, verify, cert)
                self._environment[key] = found
        return {**found, "proxies": dict(found["proxies"])}


def _origin_key(url: str) -> str:
    """
    ``scheme://netloc`` of a URL as written: a cache key per origin, cheaper than parsing the URL (two
    spellings of one origin only make two entries).
    """
    scheme, _, rest = url.partition("://")
    for end in "/?#":
        rest = rest.split(end, 1)[0]
    return f"{scheme.lower()}://{rest.lower()}"


def _merged(asked: Any, default: Any, kind: type) -> Any:
    """
    :func:`requests.sessions.merge_setting` for two mappings, without its runtime protocol checks (a tenth
    of a millisecond per request with ``requests`` 2.34); anything else goes to it.
    """
    if not (isinstance(asked, Mapping) and isinstance(default, Mapping)):
        return merge_setting(asked, default, dict_class=kind)
    merged = kind(default)
    merged.update(asked)
    for key, value in asked.items():
        if value is None:  # a request's None removes the session's setting
            del merged[key]
    return merged


class OriginAdapter(HTTPAdapter):
    """
    An :class:`~requests.adapters.HTTPAdapter` that works out a connection pool's key once per origin, CA
    bundle and client certificate instead of once per request (a URL parse, and a file-system ``isdir``
    whenever the CA bundle is a path, as ``REQUESTS_CA_BUNDLE`` makes it).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool_keys: dict[tuple[str, Any, Any], Any] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # type: ignore[misc]  # defined by requests, not in its stubs
        self._pool_keys = {}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> Any:
        """
        :meth:`requests.adapters.HTTPAdapter.build_connection_pool_key_attributes`, remembered per origin.

        :param request: the request.
        :param verify: the CA bundle, or whether to verify.
        :param cert: the client certificate.
        """
        key = (_origin_key(str(request.url)), verify, tuple(cert) if isinstance(cert, list) else cert)
        found = self._pool_keys.get(key)
        if found is None:
            found = super().build_connection_pool_key_attributes(request, verify, cert)
            self._pool_keys[key] = found
        host, pool = found
        return {**host}, {**pool}  # copies: urllib3 is free to change what it is given


def new_session() -> requests.Session:
    """A keep-alive session with room for the most requests a transport runs at once."""
    session = BearerSession()
    adapter = OriginAdapter(pool_connections=4, pool_maxsize=64)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def budget(settings: ContactsSettings) -> RollingWindowLimiter:
    """
    The rate budget of the app and location the settings name: local, or shared in Redis.

    :param settings: the connection's settings, for one location.
    """
    # A request holds its slot until its answer; one without an answer has timed out (connect, then read)
    # by twice the timeout, and its slot is released then. The hold only frees the slots of a process
    # that died mid-request (in the shared window).
    limiter = RollingWindowLimiter(
        settings.requests_per_window, settings.rate_limit_window, hold=2 * settings.timeout
    )
    if settings.rate_limit_backend:
        from airflow_provider_contacts.transport.shared import RedisWindow

        limiter.shared = RedisWindow(
            settings.rate_limit_backend,
            settings.budget_key,
            limiter.limit,
            limiter.window,
            limiter.hold,
            key_prefix=settings.rate_limit_key_prefix,
        )
    return limiter


def company_chain(
    conn: Any,
    settings: ContactsSettings,
    store: TokenStore,
    *,
    session: requests.Session | None = None,
    user_type: str = "Company",
) -> OAuthTokenProvider:
    """
    The connection's OAuth chain: a location's (``oauth``) or an agency's (``agency``, user type Company).

    :param conn: the connection (client id and secret, the first refresh token).
    :param settings: its parsed settings.
    :param store: where the chain's rotated tokens live.
    :param session: the HTTP session; default: a new one.
    :param user_type: ``Location`` or ``Company``.
    """
    return OAuthTokenProvider(
        token_url=f"{settings.base_url}/oauth/token",
        client_id=str(conn.login),
        client_secret=str(conn.password),
        seed_refresh_token=(conn.extra_dejson or {}).get("refresh_token"),
        store=store,
        session=session or new_session(),  # not requests.Session(): ~/.netrc would add Basic credentials
        timeout=settings.timeout,
        conn_id=settings.conn_id,
        user_type=user_type,
        api=for_connection(settings.conn_id, settings.api_version),
    )


def default_store(settings: ContactsSettings) -> TokenStore:
    """The token store a connection names: its ``token_file``, else its Airflow Variable."""
    if settings.token_file:
        return FileTokenStore(settings.token_file)
    return VariableTokenStore(settings.token_variable)


class Transport:
    """
    Settings, auth, rate budget and HTTP session of one connection in one process.

    :param settings: the connection's parsed settings.
    :param auth: the token provider.
    :param limiter: the rate budget.
    :param session: the keep-alive ``requests`` session (also used for token refreshes).
    """

    def __init__(
        self,
        settings: ContactsSettings,
        auth: TokenProvider,
        limiter: RollingWindowLimiter,
        session: requests.Session,
    ) -> None:
        self.settings = settings
        self.auth = auth
        self.limiter = limiter
        self.session = session
        self._latency: float | None = None
        self._fastest: deque[float] = deque(maxlen=100)
        self._latency_lock = threading.Lock()
        self._retrying = tenacity.Retrying(**self.retry_policy())
        self._aio: Any = None

    @classmethod
    def from_connection(
        cls,
        conn: Any,
        token_store: TokenStore | None = None,
        *,
        location_id: str | None = None,
        company: OAuthTokenProvider | None = None,
    ) -> Transport:
        """
        Build the transport of an Airflow connection, for one location.

        :param conn: the connection.
        :param token_store: where rotated OAuth tokens live; default: what the connection names.
        :param location_id: the location whose budget (and, for an agency, whose token) to use; default: the
            connection's ``location_id``.
        :param company: an agency connection's company chain, shared by its locations; default: a new one.
        """
        settings = ContactsSettings.from_connection(conn).for_location(location_id)
        session = new_session()
        auth: TokenProvider
        store = token_store or default_store(settings)
        if settings.auth_type == "private_token":
            auth = StaticTokenProvider(str(conn.password))
        elif settings.auth_type == "agency":
            if not settings.location_id:
                raise ContactsConfigError(
                    f"connection {settings.conn_id!r}: an agency connection needs a location for this call: "
                    "pass location_id, or set the connection's extra.location_id"
                )
            api = for_connection(settings.conn_id, settings.api_version)
            auth = LocationTokenProvider(
                company=company or company_chain(conn, settings, store),
                company_id=str(settings.company_id),
                location_id=settings.location_id,
                url=settings.base_url + api.location_token_path,
                store=store.for_location(settings.location_id),
                session=session,
                timeout=settings.timeout,
                conn_id=settings.conn_id,
                version=api.name,
            )
        else:
            auth = company_chain(conn, settings, store, session=session, user_type="Location")
        return cls(settings, auth, budget(settings), session)

    @classmethod
    def of_company(cls, conn: Any, company: OAuthTokenProvider) -> Transport:
        """
        Build the transport of an agency connection's company: the agency routes (``/oauth/installedLocations``)
        with the company's token, on the company's own rate budget.

        :param conn: the agency connection.
        :param company: its company chain.
        """
        settings = dataclasses.replace(ContactsSettings.from_connection(conn), location_id=None)
        return cls(settings, company, budget(settings), new_session())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.settings.conn_id!r})"

    # --------------------------------------------------------------------------------- measurements

    @property
    def latency(self) -> float | None:
        """The average time an answer takes, in seconds (None before the first)."""
        return self._latency

    def observe_latency(self, seconds: float) -> None:
        """
        Fold one answer's time into the average.

        :param seconds: from sending to the answer.
        """
        with self._latency_lock:
            last = self._latency
            self._latency = seconds if last is None else last + _LATENCY_WEIGHT * (seconds - last)
            self._fastest.append(seconds)

    def concurrency(self, ceiling: int = 64) -> int:
        """
        How many requests in flight keep the budget busy: enough that a window's burst goes out in a
        fortieth of the window (two latencies at 150 ms). Every window boundary costs the time its burst
        takes to go out, so a twentieth (four latencies) kept one location's 300 upserts near 0.95 of the
        fastest the limit allows. Sized from the fastest of the recent answers, the server's own time: a
        queue (a busy server, other processes on the location) must not call for more requests in flight,
        which would only lengthen it. The limiter, not this figure, keeps the rate.

        :param ceiling: the most it returns.
        """
        with self._latency_lock:
            latency = min(self._fastest, default=None)
        limiter = self.limiter
        if latency is None:
            # Nothing measured yet: a window's worth goes out at once, as they would with the
            # latency known (starting with a few cost each location's first burst a round trip, and every
            # later window the same, since each slot comes back a window after its first use).
            return max(2, min(ceiling, limiter.limit))
        burst = limiter.limit * latency / (0.025 * limiter.window)
        return max(2, min(ceiling, int(burst) + 1))

    # ------------------------------------------------------------------------------------ the retries

    def retry_policy(self) -> dict[str, Any]:
        """Tenacity's arguments for both faces: which errors, how many tries, how long between."""
        return retry_policy(
            retries=self.settings.max_retries,
            base=self.settings.retry_backoff,
            cap=self.settings.retry_backoff_max,
        )

    def prepare_retry(self, retry: Retry) -> None:
        """Pause the budget after a 429 (every thread and coroutine waits)."""
        if retry.pause is not None:
            self.limiter.pause(retry.pause)

    # ------------------------------------------------------------------------------- the sync face

    def request(self, call: Call) -> Any:
        """
        Send a call, with its retries, from a thread.

        :param call: the call.
        :return: the decoded JSON body.
        """
        try:
            return self._retrying(self._attempt, call)
        except Retry as exhausted:
            raise exhausted.final from None

    def _attempt(self, call: Call) -> Any:
        auth = self.auth
        # Everything that can block comes before the slot: a slot taken while a token refresh waits would
        # start the window early, and the server's window would disagree with ours.
        token = auth.access_token()
        check_granted(call, self.settings.conn_id, auth.granted_scopes)
        started_at = self.limiter.acquire()
        call.sent += 1
        sent_at = time.perf_counter()
        try:
            response = self.session.request(
                call.method,
                call.url,
                params=call.params or None,
                json=call.json,
                headers=call.headers(token),
                timeout=self.settings.timeout,
            )
        except requests.exceptions.RequestException as error:
            cut = isinstance(error, requests.exceptions.ConnectionError) and never_sent(error)
            raise no_answer(call, type(error).__name__, cut) from None
        finally:
            self.limiter.release(started_at)
        self.observe_latency(time.perf_counter() - sent_at)
        self.limiter.update_from_headers(response.headers, started_at=started_at)
        answer = Answer(response.status_code, response.headers, response.content, response.reason or "")
        try:
            return classify(answer, call, can_refresh=auth.can_refresh, window=self.limiter.window)
        except Retry as retry:
            self.prepare_retry(retry)
            if retry.refresh:
                auth.refresh(stale_access_token=token)
            raise

    # ------------------------------------------------------------------------------ the async face

    @property
    def aio(self) -> Any:
        """The async face (:class:`~airflow_provider_contacts.transport.aio.AsyncTransport`) on the same parts."""
        if self._aio is None:
            from airflow_provider_contacts.transport.aio import AsyncTransport

            self._aio = AsyncTransport(self)
        return self._aio

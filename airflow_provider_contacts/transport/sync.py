"""
The transport of one connection in one process, and its synchronous face.

A :class:`Transport` owns what must exist once per connection and process: the settings, the token
provider (one refresh at a time), the rate limiter (one budget), the keep-alive session, and the measured
latency. Every hook, sensor and trigger of the connection gets the same one from
:func:`~airflow_provider_contacts.transport.registry.get_transport`; the async face
(:attr:`Transport.aio`) shares all of it.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
import time
from collections import deque
from typing import Any

import requests
import tenacity

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
    Call,
    check_granted,
    classify,
    failure_kind,
    no_answer,
)
from airflow_provider_contacts.transport.direct import DirectPath
from airflow_provider_contacts.transport.limiter import RollingWindowLimiter
from airflow_provider_contacts.transport.session import new_session
from airflow_provider_contacts.transport.settings import ContactsSettings

log = logging.getLogger(__name__)

#: Weight of the newest sample in the latency average.
_LATENCY_WEIGHT = 0.2


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
        self._sender = DirectPath(session)
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
        # The first attempt goes without tenacity's bookkeeping (a twentieth of the client's CPU per
        # request when ten locations' windows open at once, benchmarks/burst.py); most calls need no other.
        try:
            return self._attempt(call)
        except Retry as first:
            failed = first
        try:
            return self._retry(call, failed)
        except Retry as exhausted:
            raise exhausted.final from None

    def _retry(self, call: Call, failed: Retry) -> Any:
        """
        Tenacity's loop (``Retrying.__call__``), entered with the first attempt already failed: the same
        stop, waits and log lines as if tenacity had made it.
        """
        retrying = self._retrying
        retrying.begin()
        state = tenacity.RetryCallState(retry_object=retrying, fn=self._attempt, args=(call,), kwargs={})
        state.set_exception((type(failed), failed, failed.__traceback__))
        while True:
            do = retrying.iter(retry_state=state)
            if isinstance(do, tenacity.DoAttempt):
                try:
                    result = self._attempt(call)
                except BaseException:
                    state.set_exception(sys.exc_info())  # type: ignore[arg-type]
                else:
                    state.set_result(result)
            elif isinstance(do, tenacity.DoSleep):
                state.prepare_for_next_attempt()
                retrying.sleep(do)
            else:
                return do

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
            answer = self._sender.send(
                call.method,
                call.url,
                params=call.params,
                json=call.json,
                headers=call.headers(token),
                timeout=self.settings.timeout,
                idempotent=call.idempotent,
            )
        except requests.exceptions.RequestException as error:
            cut = isinstance(error, requests.exceptions.ConnectionError) and never_sent(error)
            raise no_answer(call, failure_kind(error), cut) from None
        finally:
            self.limiter.release(started_at)
        self.observe_latency(time.perf_counter() - sent_at)
        self.limiter.update_from_headers(answer.headers, started_at=started_at)
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

"""
The asynchronous face of a :class:`~airflow_provider_contacts.transport.sync.Transport`, over ``httpx``.

It shares the transport's settings, token provider and rate budget, and the pure core (building the call,
classifying the answer); only the I/O differs. Waiting for a slot and for a retry happens on the event
loop's timer, so a coroutine holds no thread while it waits. The one blocking step is a token load or
refresh (the token store and the token endpoint are synchronous): it runs in a thread, once a day or so.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

import httpx
import tenacity

from airflow_provider_contacts.retries import Retry
from airflow_provider_contacts.transport.core import (
    Answer,
    Call,
    check_granted,
    classify,
    failure_kind,
    no_answer,
)
from airflow_provider_contacts.transport.settings import context_trusting, environment_ca_bundle

if TYPE_CHECKING:
    from airflow_provider_contacts.transport.sync import Transport


def ca_bundle_context() -> ssl.SSLContext:
    """
    The TLS context of the async face, trusting what the threads' ``requests`` trusts: the bundle named by
    ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` (a corporate CA of a TLS-inspecting proxy), else httpx's
    default (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, then certifi). httpx reads only the latter two, so a
    deployment that set the first for requests would see its deferred sensors fail where its tasks work.
    """
    bundle = environment_ca_bundle()
    return context_trusting(bundle) if bundle else httpx.create_ssl_context()


class AsyncTransport:
    """
    Send calls from coroutines: one ``httpx.AsyncClient`` per event loop, everything else shared.

    :param transport: the connection's transport.
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._ssl_context: ssl.SSLContext | None = None
        self._prepare_lock = threading.Lock()

    def prepare(self) -> None:
        """
        Do, in the calling thread, the slow parts of a first request that would otherwise run on the loop:
        the TLS context (loading the CA bundle takes tens of milliseconds) and the imports ``httpcore``
        makes on its first async request. A triggerer calls it in a thread before a trigger's first check,
        so that two hundred triggers starting at once never stall the loop; it is idempotent.
        """
        with self._prepare_lock:
            if self._ssl_context is None:
                # What httpcore imports on its first async request: anyio, whose backend and streams load
                # lazily (about 50 ms on the loop otherwise, at the first request of a triggerer).
                import anyio._backends._asyncio
                import anyio.streams.tls  # noqa: F401
                from httpcore._backends.anyio import AnyIOBackend  # noqa: F401

                self._ssl_context = ca_bundle_context()

    def client(self) -> httpx.AsyncClient:
        """The running loop's HTTP client (a client cannot outlive or cross its loop)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            self.prepare()
            assert self._ssl_context is not None
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
            client = self._clients[loop] = httpx.AsyncClient(limits=limits, verify=self._ssl_context)
        return client

    async def request(self, call: Call) -> Any:
        """
        Send a call, with its retries, from a coroutine.

        :param call: the call.
        :return: the decoded JSON body.
        """
        retrying = tenacity.AsyncRetrying(**self.transport.retry_policy())
        try:
            return await retrying(self._attempt, call)
        except Retry as exhausted:
            raise exhausted.final from None

    async def _attempt(self, call: Call) -> Any:
        transport = self.transport
        auth = transport.auth
        token: str | None = auth.ready_token() if hasattr(auth, "ready_token") else None
        if token is None:
            token = await asyncio.to_thread(auth.access_token)
        check_granted(call, transport.settings.conn_id, auth.granted_scopes)
        started_at = await transport.limiter.aacquire()
        call.sent += 1
        sent_at = time.perf_counter()
        try:
            response = await self.client().request(
                call.method,
                call.url,
                params=call.params or None,
                json=call.json,
                headers=call.headers(token),
                timeout=transport.settings.timeout,
            )
        except httpx.TransportError as error:
            cut = isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))
            raise no_answer(call, failure_kind(error), cut) from None
        finally:
            await transport.limiter.arelease(started_at)
        transport.observe_latency(time.perf_counter() - sent_at)
        transport.limiter.update_from_headers(response.headers, started_at=started_at)
        answer = Answer(response.status_code, response.headers, response.content, response.reason_phrase)
        try:
            return classify(answer, call, can_refresh=auth.can_refresh, window=transport.limiter.window)
        except Retry as retry:
            transport.prepare_retry(retry)
            if retry.refresh:
                await asyncio.to_thread(auth.refresh, token)
            raise

    async def aclose(self) -> None:
        """Close the running loop's client."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

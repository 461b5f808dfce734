"""
The pure part of the request path, shared by the ``requests`` face and the ``httpx`` face: what a call
is, the headers it carries, and what an answer means (return it, retry after N seconds, or raise).

Nothing here does I/O or waits; each face sends, sleeps and refreshes tokens its own way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_contacts.coercion import retry_after
from airflow_provider_contacts.exceptions import (
    ContactsApiError,
    ContactsAuthError,
    ContactsPermissionError,
    ContactsRateLimitError,
    api_messages,
    error_for_status,
)
from airflow_provider_contacts.retries import Retry
from airflow_provider_contacts.transport.settings import ContactsSettings

WRITE_SCOPE = "contacts.write"


def is_write(method: str, path: str) -> bool:
    """Whether a call writes: anything but GET/HEAD/OPTIONS and ``.../search``."""
    return method not in ("GET", "HEAD", "OPTIONS") and not path.rstrip("/").endswith("/search")


def without_none(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping without its None values."""
    return {key: value for key, value in mapping.items() if value is not None}


@dataclass
class Call:
    """
    One API call, built once and sent as many times as its retries need.

    :param method: HTTP method.
    :param path: path below the base URL.
    :param url: the full URL.
    :param params: query parameters, None values dropped.
    :param json: the JSON body.
    :param version: the ``Version`` header.
    :param idempotent: whether it may be sent again after no answer.
    :param guarded: a write to ``/contacts``: needs the ``contacts.write`` scope.
    :param refreshed: whether a 401 already refreshed the token once for this call.
    :param sent: how many times it was sent (retries included).
    :param maybe_applied: whether an attempt that failed may still have been applied (it got no answer, or
        a 5xx): an answer of a later attempt then describes the state that attempt left.
    """

    method: str
    path: str
    url: str
    params: dict[str, Any]
    json: Any
    version: str
    idempotent: bool
    guarded: bool
    refreshed: bool = False
    sent: int = field(default=0)
    maybe_applied: bool = False

    @classmethod
    def build(
        cls,
        settings: ContactsSettings,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        *,
        version: str | None = None,
        write: bool | None = None,
        idempotent: bool | None = None,
    ) -> Call:
        """
        Normalise a request's arguments (see ``ContactsHook.request``).

        :param settings: the connection's settings.
        :param method: HTTP method.
        :param path: path below the base URL.
        :param params: query parameters.
        :param json: JSON body.
        :param version: the ``Version`` header; default: the connection's.
        :param write: whether the call writes; default: :func:`is_write`.
        :param idempotent: default: all but POST ``/contacts/`` (create).
        """
        method = method.upper()
        if not path.startswith("/"):
            path = "/" + path
        if write is None:
            write = is_write(method, path)
        if idempotent is None:
            idempotent = not (method == "POST" and path.rstrip("/") == "/contacts")
        return cls(
            method=method,
            path=path,
            url=settings.base_url + path,
            params=without_none(params or {}),
            json=json,
            version=version or settings.api_version,
            idempotent=idempotent,
            guarded=write and path.startswith("/contacts"),
        )

    def headers(self, token: str) -> dict[str, str]:
        """The request's headers with this access token."""
        return {"Authorization": f"Bearer {token}", "Version": self.version, "Accept": "application/json"}


@dataclass(frozen=True)
class Answer:
    """What came back, in the same shape from ``requests`` and from ``httpx``."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    reason: str

    def json_object(self) -> dict[str, Any]:
        """The body's JSON object, or ``{}``."""
        try:
            body = json.loads(self.content) if self.content else {}
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}


def check_granted(call: Call, conn_id: str, granted: frozenset[str] | None) -> None:
    """Refuse a guarded write before sending when the token lacks ``contacts.write``."""
    if call.guarded and granted is not None and WRITE_SCOPE not in granted:
        raise ContactsPermissionError(
            f"the token of connection {conn_id!r} was granted only {' '.join(sorted(granted))}; "
            f"re-authorise the app with {WRITE_SCOPE} to write",
            method=call.method,
            path=call.path,
        )


def failure_kind(error: BaseException, depth: int = 6) -> str:
    """
    A transport error's class and the classes of what it wraps, outermost first.

    Enough to tell a refused connection from one the server dropped (``ConnectionError < ProtocolError <
    RemoteDisconnected``), without the errors' text, which can carry a URL's query.

    :param error: the error.
    :param depth: the most classes named.
    """
    names: list[str] = []
    current: BaseException | None = error
    for _ in range(2 * depth):  # a wrapper of the same name (httpx's over httpcore's) is walked, not named
        if current is None or len(names) == depth:
            break
        if type(current).__name__ not in names[-1:]:
            names.append(type(current).__name__)
        reason = getattr(current, "reason", None)
        wrapped = [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
        context = None if current.__suppress_context__ else current.__context__
        candidates = [reason, *wrapped, current.__cause__, context]
        current = next((c for c in candidates if isinstance(c, BaseException)), None)
    return " < ".join(names)


def no_answer(call: Call, kind: str, never_sent: bool) -> Exception:
    """
    The outcome of a request that got no answer: a :class:`Retry`, or the error to raise.

    :param call: the call.
    :param kind: the transport error's class name.
    :param never_sent: whether the connection itself failed, so the server cannot have processed it.
    """
    final = ContactsApiError(f"no answer from the API ({kind})", method=call.method, path=call.path)
    call.maybe_applied = call.maybe_applied or not never_sent
    if call.idempotent or never_sent:
        return Retry(final)
    # The API may have processed it (it can create and still fail): not sent blindly again.
    return ContactsApiError(
        f"no answer from the API ({kind}); not retried because {call.method} {call.path} is not idempotent "
        "and may have been applied. Check before re-running, or use upsert, which is safe to repeat",
        method=call.method,
        path=call.path,
    )


def api_error(answer: Answer, call: Call) -> ContactsApiError:
    """The typed error of an answer of 400 or more."""
    body = answer.json_object()
    messages = api_messages(body, answer.reason)
    message = "; ".join(messages)
    error_class = error_for_status(answer.status)
    if answer.status == 401 and "scope" in message.lower():
        error_class = ContactsPermissionError
    return error_class(
        message,
        status=answer.status,
        method=call.method,
        path=call.path,
        trace_id=body.get("traceId"),
        messages=messages,
    )


def classify(answer: Answer, call: Call, *, can_refresh: bool, window: float) -> Any:
    """
    Decode a success, or raise what an error means: a :class:`Retry` or the typed error.

    :param answer: the answer.
    :param call: its call (``refreshed`` is set here when a 401 asks for a refresh).
    :param can_refresh: whether the token provider can refresh (OAuth).
    :param window: the rate window, the pause after a 429 without ``Retry-After``.
    :return: the decoded JSON body (``{}`` for an empty one).
    """
    if answer.status < 400:
        if not answer.content:
            return {}
        try:
            return json.loads(answer.content)
        except ValueError:
            raise ContactsApiError(
                f"the API answered HTTP {answer.status} with a body that is not JSON",
                status=answer.status,
                method=call.method,
                path=call.path,
            ) from None
    final = api_error(answer, call)
    status = answer.status
    if status == 401 and can_refresh and not call.refreshed and "scope" not in final.message.lower():
        call.refreshed = True
        raise Retry(final, wait=0, refresh=True)
    if status == 401 and not can_refresh and isinstance(final, ContactsAuthError):
        raise ContactsAuthError(
            f"{final.message}: the private integration token was refused. Create or rotate it in HighLevel "
            "under Settings > Private Integrations and put it in the connection's password",
            status=status,
            method=call.method,
            path=call.path,
            trace_id=final.trace_id,
        )
    if status == 429:
        if answer.headers.get("X-RateLimit-Daily-Remaining") == "0":
            raise ContactsRateLimitError(
                "the location's daily request budget is exhausted; it renews daily",
                status=429,
                method=call.method,
                path=call.path,
                trace_id=final.trace_id,
            )
        # The paused limiter does the waiting, for every thread and coroutine.
        raise Retry(final, wait=0, pause=retry_after(answer.headers, window))
    if status >= 500 and call.idempotent:
        call.maybe_applied = True
        raise Retry(final)
    raise final

"""Errors raised by the Contacts provider.

Every API error carries the HTTP status, the API's own message, its trace id and the request's method and
path, so that a failed task's log says what went wrong and where without anyone re-running it. None of them
ever holds a token: messages are built from the response body and the request path only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk.exceptions import AirflowException


class ContactsError(AirflowException):
    """Base class of every error of this provider."""


class ContactsConfigError(ContactsError, ValueError):
    """The connection or an argument is unusable; raised before any request is sent."""


class ContactsMissingExtraError(ContactsConfigError):
    """
    A feature was used whose optional dependencies are not installed; the message names the extra.

    :param message: what is missing and the ``pip install`` line that adds it.
    :param extra: the provider's extra that installs it (``reporting``, ``redis`` ...).
    """

    def __init__(self, message: str, *, extra: str) -> None:
        super().__init__(message)
        self.extra = extra


class ContactsApiError(ContactsError):
    """
    The Contacts API answered with an error, or could not be reached after all retries.

    :param message: the API's message (a list of 422 messages is joined with semicolons).
    :param status: HTTP status, or None when no answer came (connection error, timeout).
    :param method: HTTP method of the request.
    :param path: path of the request, without the host or query string.
    :param trace_id: the ``traceId`` of the API's answer, for HighLevel support.
    :param messages: every message of the answer (a 422 lists one per invalid field).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        trace_id: str | None = None,
        messages: Sequence[str] | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.trace_id = trace_id
        self.messages = list(messages) if messages else [message]
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.method} {self.path}" if self.method and self.path else "request"
        status = f"HTTP {self.status}" if self.status is not None else "no answer"
        text = f"{where} failed ({status}): {self.message}"
        if self.trace_id:
            text += f" [traceId {self.trace_id}]"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the keyword-only fields across pickling (XCom, multiprocessing).
        return (
            _rebuild_api_error,
            (
                type(self),
                self.message,
                {
                    "status": self.status,
                    "method": self.method,
                    "path": self.path,
                    "trace_id": self.trace_id,
                    "messages": self.messages,
                },
            ),
        )


def _rebuild_api_error(cls: type[ContactsApiError], message: str, fields: dict[str, Any]) -> ContactsApiError:
    return cls(message, **fields)


class ContactsAuthError(ContactsApiError):
    """Authentication failed: bad credentials, or a refresh token that no longer works."""


class ContactsPermissionError(ContactsApiError):
    """The token may not do this: a read-only connection, a missing scope, or another location's data."""


class ContactsNotFoundError(ContactsApiError):
    """The contact, task, note or other object does not exist (HTTP 404)."""


class ContactsValidationError(ContactsApiError):
    """The API rejected the request's content (HTTP 400 or 422); ``messages`` lists every reason."""


class ContactsRateLimitError(ContactsApiError):
    """The rate limit held after every retry, or the daily request budget is exhausted."""


ERROR_BY_STATUS: dict[int, type[ContactsApiError]] = {
    400: ContactsValidationError,
    401: ContactsAuthError,
    403: ContactsPermissionError,
    404: ContactsNotFoundError,
    422: ContactsValidationError,
    429: ContactsRateLimitError,
}


def json_object(response: Any) -> dict[str, Any]:
    """The JSON object of an HTTP answer, or ``{}`` when its body is empty, not JSON or not an object."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def api_messages(body: dict[str, Any], fallback: str | None) -> list[str]:
    """
    The messages of an API error body: ``message`` (a string, or a list for 422), else OAuth's
    ``error_description`` or ``error``, else ``fallback`` (the HTTP reason).

    v3's AIP envelope ``{"error": {code, message, details, resolution}}`` gives its ``message``, with the
    ``code`` in front and the ``resolution`` after it.
    """
    error = body.get("error")
    if isinstance(error, dict):
        text = f"{error.get('code') or 'ERROR'}: {error.get('message') or fallback or 'error'}"
        if error.get("resolution"):
            text += f" ({error['resolution']})"
        return [text]
    raw = body.get("message") or body.get("error_description") or error or fallback
    if isinstance(raw, list):
        return [str(item) for item in raw]
    return [str(raw or "error")]


def error_for_status(status: int) -> type[ContactsApiError]:
    """Return the error class for an HTTP status."""
    return ERROR_BY_STATUS.get(status, ContactsApiError)

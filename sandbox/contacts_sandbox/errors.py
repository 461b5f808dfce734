"""Error answers in the API's shapes (docs/api-behaviour.md, Errors): ``{statusCode, message, error, traceId}``."""

from __future__ import annotations

import secrets
from http import HTTPStatus
from typing import Any


def trace_id() -> str:
    """Return a new trace id (the real API's are UUIDs)."""
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class ApiError(Exception):
    """
    An error answer; raised anywhere in a route and turned into a JSON body by the app.

    :param status: HTTP status.
    :param message: the ``message`` field: a string, or a list of strings for 422.
    :param headers: extra response headers.
    :param extra: extra body fields (e.g. ``meta`` of the duplicate-contact 400).
    """

    def __init__(
        self,
        status: int,
        message: str | list[str],
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """Return the JSON body of this error."""
        body: dict[str, Any] = {
            "statusCode": self.status,
            "message": self.message,
            "error": HTTPStatus(self.status).phrase,
        }
        body.update(self.extra)
        body["traceId"] = trace_id()
        return body


class AipError(ApiError):
    """
    An error in v3's AIP envelope ``{"error": {code, message, details, resolution}}`` (``AipErrorResponseDto``
    of oauth-v3.json, e.g. ``GET /oauth/installed-locations``).

    :param status: HTTP status.
    :param code: the machine-readable code, e.g. ``RESOURCE_NOT_FOUND``.
    :param message: the human-readable message.
    :param details: context (field name, identifier...).
    :param resolution: what the caller should do.
    """

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any], resolution: str
    ) -> None:
        super().__init__(status, message)
        self.error_body = {"code": code, "message": message, "details": details, "resolution": resolution}

    def body(self) -> dict[str, Any]:
        """Return the JSON body of this error."""
        return {"error": self.error_body}


def unprocessable(*messages: str) -> ApiError:
    """
    Return a 422 in NestJS's validation shape, ``message`` being the list of reasons.

    :param messages: one reason per invalid field.
    """
    return ApiError(422, list(messages))


def not_found(what: str) -> ApiError:
    """
    Return a 404 for a missing object.

    :param what: e.g. ``Contact``.
    """
    return ApiError(404, f"{what} not found")


def forbidden_location() -> ApiError:
    """Return the 403 the API sends when the token's location is not the data's (n8n#11353)."""
    return ApiError(403, "The token does not have access to this location.")

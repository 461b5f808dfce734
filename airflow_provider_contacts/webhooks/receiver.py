"""
The HTTP side of a webhook receiver, shared by the API-server plugin and the standalone forwarder.

``POST /{conn_id}`` answers:

- 413 when the body is over ``max_body`` bytes;
- 401 for a missing or wrong signature, an unknown connection, or a timestamp outside the window (a stale
  delivery is treated like an unauthenticated one: it may be a captured request sent again);
- 400 for a signed body that is not an event (not JSON, no ``type``/``webhookId``/``timestamp``, no
  ``locationId`` or id for a handled type);
- 200 ``{"status": "ignored"}`` for a type nothing is recorded for (``AppInstall`` ...), ``duplicate`` for
  a ``webhookId`` seen before, ``no_asset`` when no DAG uses the event's asset, ``recorded`` otherwise;
- 429 with ``Retry-After`` when recording failed (the database was busy or down): HighLevel retries a
  delivery only after a 429, so this is the answer that loses nothing.

The signature is checked before the body is read as JSON, so an unsigned sender learns nothing about
parsing. Logs name the event type and ids, never the body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from airflow_provider_contacts.coercion import to_float
from airflow_provider_contacts.webhooks.verify import (
    DEFAULT_MAX_AGE,
    HIGHLEVEL_LEGACY_PUBLIC_KEY,
    WebhookEvent,
    WebhookKeys,
    WebhookRefused,
    check_fresh,
    parse_event,
    verify_signature,
)

log = logging.getLogger(__name__)

#: HighLevel's payloads are a few KiB; anything far larger is not one of them.
DEFAULT_MAX_BODY = 256 * 1024
#: Seconds a refused-for-now delivery is asked to wait (HighLevel waits about 10 minutes anyway).
RETRY_AFTER = 60


@dataclass(frozen=True)
class ReceiverSettings:
    """
    What a receiver needs to know about one connection.

    :param keys: the verification keys.
    :param max_age: the timestamp window in seconds.
    """

    keys: WebhookKeys
    max_age: float = DEFAULT_MAX_AGE

    @classmethod
    def from_extra(cls, extra: dict[str, object]) -> ReceiverSettings:
        """
        Read the settings from a connection's extra.

        ``webhook_public_key`` (Ed25519, the app's key), ``webhook_legacy_public_key`` (RSA; HighLevel's
        published key by default, set it when HighLevel rotates it), ``webhook_max_age`` (seconds, 300).

        :param extra: the connection's extra.
        :raises WebhookRefused: 401 when a key cannot be read (the message names the field).
        """
        try:
            keys = WebhookKeys.from_text(
                str(extra.get("webhook_public_key") or "") or None,
                str(extra.get("webhook_legacy_public_key") or HIGHLEVEL_LEGACY_PUBLIC_KEY),
            )
            max_age = to_float(extra.get("webhook_max_age") or DEFAULT_MAX_AGE, "webhook_max_age", minimum=1)
        except ValueError as exc:
            log.error("Webhook settings of the connection are unusable: %s", exc)
            raise WebhookRefused(401, "the receiver's webhook settings are unusable") from exc
        return cls(keys, max_age)


#: ``settings_for(conn_id)``: the settings, or :class:`WebhookRefused` (401) for an unknown connection.
SettingsLookup = Callable[[str], ReceiverSettings]
#: ``record(conn_id, event)``: record an accepted event; returns ``recorded``, ``duplicate`` or ``no_asset``.
Recorder = Callable[[str, WebhookEvent], str]


async def _read_body(request: Request, max_body: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise WebhookRefused(413, f"body over {max_body} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise WebhookRefused(413, f"body over {max_body} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_receiver_app(
    settings_for: SettingsLookup,
    record: Recorder,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    title: str = "HighLevel webhooks",
) -> FastAPI:
    """
    Build the receiving app: ``POST /{conn_id}``.

    :param settings_for: the connection's keys and window (blocking calls allowed: run in a thread).
    :param record: records an accepted event (blocking: run in a thread; the request waits only for it).
    :param max_body: the largest body accepted, in bytes.
    :param clock: the current time (aware), for the timestamp window.
    :param title: the app's title.
    """
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)

    def retry_later(what: str, exc: Exception) -> JSONResponse:
        log.warning("Could not %s (%s); asked for a retry", what, type(exc).__name__)
        return JSONResponse(
            {"detail": "busy, retry later"}, status_code=429, headers={"Retry-After": str(RETRY_AFTER)}
        )

    @app.post("/{conn_id}")
    async def receive(conn_id: str, request: Request) -> JSONResponse:
        try:
            body = await _read_body(request, max_body)
            try:
                settings = await run_in_threadpool(settings_for, conn_id)
            except WebhookRefused:
                raise
            except Exception as exc:  # the secrets backend or database is down: HighLevel must retry
                return retry_later(f"read the settings of connection {conn_id}", exc)
            verify_signature(body, request.headers, settings.keys)
            event = parse_event(body)
            check_fresh(event, clock(), settings.max_age)
        except WebhookRefused as refused:
            log.warning(
                "Refused a webhook for connection %s: %s (%d)", conn_id, refused.reason, refused.status
            )
            return JSONResponse({"detail": refused.reason}, status_code=refused.status)
        if event.family is None or event.location_id is None:
            log.info("Ignored webhook %s", event.describe())
            return JSONResponse({"status": "ignored"})
        try:
            outcome = await run_in_threadpool(record, conn_id, event)
        except Exception as exc:
            return retry_later(f"record webhook {event.describe()}", exc)
        log.info("Webhook %s: %s", event.describe(), outcome)
        return JSONResponse({"status": outcome})

    return app

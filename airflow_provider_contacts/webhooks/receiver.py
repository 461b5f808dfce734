"""
The HTTP side of a webhook receiver, shared by the API-server plugin and the standalone forwarder.

Only connections that opted in receive webhooks: a ``webhook_public_key``, or ``webhook_accept_legacy`` for
legacy-only deliveries. ``POST /{conn_id}`` answers:

- 413 when the body is over ``max_body`` bytes (declared or counted, chunked too), 408 when it has not all
  come within ``body_timeout`` seconds; whatever the connection id;
- 401 ``not a verified delivery``, the same status and body for an id that does not exist, a connection
  that did not opt in or whose webhook settings are unusable, a missing or wrong signature, and a delivery
  signed only with the legacy key when the connection does not accept legacy deliveries: nothing tells
  which ids exist;
- 401 for a timestamp outside the window (a stale delivery is treated like an unauthenticated one: it may be
  a captured request sent again);
- 400 for a signed body that is not an event (not JSON, no ``type``/``webhookId``/``timestamp``, no
  ``locationId`` or id for a handled type);
- 403 for an event of a location that is not the connection's (nor, for an agency connection, one where the
  app is installed);
- 200 ``{"status": "ignored"}`` for a type nothing is recorded for (``AppInstall`` ...), ``duplicate`` for
  a ``webhookId`` seen before, ``no_asset`` when no DAG uses the event's asset, ``recorded`` otherwise;
- 429 with ``Retry-After`` when the settings or the locations could not be read or recording failed (the
  database was busy or down): HighLevel retries a delivery only after a 429, so this is the answer that
  loses nothing. Its retries carry the first try's ``timestamp``; the default window covers them.

The signature is checked before the body is read as JSON, so an unsigned sender learns nothing about
parsing. Every delivery to an opted-in connection leaves a line in the delivery log (``log_outcome``). Logs
name the event type and ids, escaped, never the body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from airflow_provider_contacts.coercion import to_bool, to_float
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.webhooks.store import Outcome
from airflow_provider_contacts.webhooks.verify import (
    DEFAULT_MAX_AGE,
    HIGHLEVEL_LEGACY_PUBLIC_KEY,
    MAX_AGE_LIMIT,
    WebhookEvent,
    WebhookKeys,
    WebhookRefused,
    check_fresh,
    parse_event,
    printable,
    verify_signature,
)

log = logging.getLogger(__name__)

#: HighLevel's payloads are a few KiB; anything far larger is not one of them.
DEFAULT_MAX_BODY = 256 * 1024
#: Seconds the whole body has to arrive in (HighLevel sends a few KiB at once).
DEFAULT_BODY_TIMEOUT = 10.0
#: Seconds a refused-for-now delivery is asked to wait (HighLevel waits about 10 minutes anyway).
RETRY_AFTER = 60
#: The one answer for every delivery that is not verified as one for this URL.
UNAUTHENTICATED = {"detail": "not a verified delivery"}


@dataclass(frozen=True)
class ReceiverSettings:
    """
    What a receiver needs to know about one connection that receives webhooks.

    :param keys: the verification keys (a legacy key only when legacy deliveries are accepted).
    :param max_age: the timestamp window in seconds.
    :param location_ids: the locations whose events are accepted.
    :param agency: an agency connection: the locations where its app is installed are accepted too.
    """

    keys: WebhookKeys
    max_age: float = DEFAULT_MAX_AGE
    location_ids: frozenset[str] = frozenset()
    agency: bool = False

    @classmethod
    def from_extra(cls, extra: dict[str, Any], owner: str = "connection") -> ReceiverSettings | None:
        """
        Read the settings from a connection's extra; None when the connection does not receive webhooks.

        ``webhook_public_key`` (Ed25519, the app's key) opts in; ``webhook_accept_legacy`` (false) accepts
        deliveries signed only with HighLevel's legacy RSA key (and opts in alone, for legacy-only
        deliveries); ``webhook_legacy_public_key`` (HighLevel's published key by default, set it when
        HighLevel rotates it); ``webhook_max_age`` (seconds, 5400); ``location_id`` (required unless
        ``auth_type`` is ``agency``).

        :param extra: the connection's extra.
        :param owner: the connection, for errors (``connection 'contacts_default'``).
        :raises ContactsConfigError: a setting is unusable (the message names the field, never a key).
        """
        public = extra.get("webhook_public_key")
        raw_legacy = extra.get("webhook_accept_legacy")
        accept_legacy = raw_legacy is not None and to_bool(
            raw_legacy, "extra.webhook_accept_legacy", owner=owner
        )
        if public in (None, "") and not accept_legacy:
            return None
        if not isinstance(public, str | None):
            raise ContactsConfigError(f"{owner}: extra.webhook_public_key must be a string")
        legacy_text = extra.get("webhook_legacy_public_key")
        if legacy_text is None:  # unset (null): HighLevel's published key
            legacy_text = HIGHLEVEL_LEGACY_PUBLIC_KEY
        else:
            if not isinstance(legacy_text, str) or not legacy_text.strip():
                raise ContactsConfigError(
                    f"{owner}: extra.webhook_legacy_public_key is empty; remove it to use the key HighLevel "
                    "publishes, or set the key"
                )
        try:
            ed25519 = WebhookKeys.from_text(public or None, None).ed25519
        except ValueError as exc:
            raise ContactsConfigError(f"{owner}: extra.webhook_public_key is unusable: {exc}") from None
        try:
            legacy = WebhookKeys.from_text(None, legacy_text).legacy_rsa
        except ValueError as exc:
            raise ContactsConfigError(
                f"{owner}: extra.webhook_legacy_public_key is unusable: {exc}"
            ) from None
        raw_age = extra.get("webhook_max_age")
        max_age = DEFAULT_MAX_AGE
        if raw_age is not None:
            max_age = to_float(
                raw_age, "extra.webhook_max_age", owner=owner, minimum=1.0, maximum=MAX_AGE_LIMIT
            )
        agency = str(extra.get("auth_type") or "").strip().lower() == "agency"
        location = extra.get("location_id")
        if location is not None and not isinstance(location, str):
            raise ContactsConfigError(f"{owner}: extra.location_id must be a string")
        location = (location or "").strip()
        if not location and not agency:
            raise ContactsConfigError(
                f"{owner}: extra.location_id is required to receive webhooks (events of other locations "
                "are refused)"
            )
        return cls(
            WebhookKeys(ed25519, legacy if accept_legacy else None),
            max_age,
            frozenset({location}) if location else frozenset(),
            agency,
        )


#: ``settings_for(conn_id)``: the settings; None when the connection does not exist or did not opt in;
#: :class:`ContactsConfigError` when its settings are unusable; anything else: try again later (429).
SettingsLookup = Callable[[str], ReceiverSettings | None]
#: ``record(conn_id, event)``: record an accepted event; returns ``recorded``, ``duplicate`` or ``no_asset``.
Recorder = Callable[[str, WebhookEvent], str]
#: ``owns_location(conn_id, settings, location_id)``: whether the connection takes this location's events
#: (blocking calls allowed; an exception asks for a retry).
LocationCheck = Callable[[str, ReceiverSettings, str], bool]
#: ``log_outcome(conn_id, outcome, received_at)``: write the delivery log (failures are only logged).
OutcomeLog = Callable[[str, Outcome, datetime], None]


def own_location(conn_id: str, settings: ReceiverSettings, location_id: str) -> bool:
    """
    The default :data:`LocationCheck`: the location is one of the settings' ``location_ids``.

    :param conn_id: the connection (unused).
    :param settings: its settings.
    :param location_id: the event's location.
    """
    return location_id in settings.location_ids


async def _read_body(request: Request, max_body: int, timeout: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise WebhookRefused(413, f"body over {max_body} bytes", "too_large")
    chunks: list[bytes] = []

    async def read() -> None:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise WebhookRefused(413, f"body over {max_body} bytes", "too_large")
            chunks.append(chunk)

    # asyncio.wait_for rather than asyncio.timeout (Python 3.11+): the package supports 3.10.
    try:
        await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise WebhookRefused(408, f"body not received within {timeout:g} s", "slow_body") from None
    return b"".join(chunks)


def _event_fields(event: WebhookEvent | None) -> dict[str, str | None]:
    if event is None:
        return {}
    return {
        "event_type": event.type,
        "webhook_id": event.webhook_id,
        "location_id": event.location_id,
        "contact_id": event.ids.get("contact_id"),
    }


def create_receiver_app(
    settings_for: SettingsLookup,
    record: Recorder,
    *,
    owns_location: LocationCheck = own_location,
    log_outcome: OutcomeLog | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    title: str = "HighLevel webhooks",
) -> FastAPI:
    """
    Build the receiving app: ``POST /{conn_id}``.

    :param settings_for: the connection's settings (blocking calls allowed: run in a thread).
    :param record: records an accepted event (blocking: run in a thread; the request waits only for it).
    :param owns_location: whether an event's location belongs to the connection (run in a thread).
    :param log_outcome: writes the delivery log of opted-in connections (run in a thread), or None.
    :param max_body: the largest body accepted, in bytes.
    :param body_timeout: seconds the body has to arrive in.
    :param clock: the current time (aware), for the timestamp window and the delivery log.
    :param title: the app's title.
    """
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)

    async def answer(
        conn_id: str, outcome: Outcome, body: dict[str, Any], received: datetime, **headers: str
    ) -> JSONResponse:
        if log_outcome is not None:
            try:
                await run_in_threadpool(log_outcome, conn_id, outcome, received)
            except Exception as exc:  # the log must never change the answer
                log.warning("Could not write the webhook delivery log (%s)", type(exc).__name__)
        return JSONResponse(body, status_code=outcome.http_status, headers=headers or None)

    async def retry_later(
        conn_id: str, what: str, exc: Exception, reason: str, received: datetime, event: WebhookEvent | None
    ) -> JSONResponse:
        log.warning("Could not %s (%s); asked for a retry", what, type(exc).__name__)
        outcome = Outcome("retry_later", 429, reason, **_event_fields(event))
        return await answer(
            conn_id, outcome, {"detail": "busy, retry later"}, received, **{"Retry-After": str(RETRY_AFTER)}
        )

    async def refuse(
        conn_id: str, refused: WebhookRefused, received: datetime, event: WebhookEvent | None = None
    ) -> JSONResponse:
        log.warning(
            "Refused a webhook for connection %s: %s (%d)", printable(conn_id), refused.reason, refused.status
        )
        unverified = refused.status == 401 and refused.code in ("bad_signature", "legacy_refused")
        body = UNAUTHENTICATED if unverified else {"detail": refused.reason}
        outcome = Outcome("refused", refused.status, refused.code, **_event_fields(event))
        return await answer(conn_id, outcome, body, received)

    @app.post("/{conn_id}")
    async def receive(conn_id: str, request: Request) -> JSONResponse:
        received = clock()
        early: WebhookRefused | None = None
        body = b""
        try:
            body = await _read_body(request, max_body, body_timeout)
        except WebhookRefused as refused:
            early = refused
        try:
            settings = await run_in_threadpool(settings_for, conn_id)
        except ContactsConfigError as exc:
            log.error("Webhook settings are unusable: %s", exc)
            if early is not None:
                return await refuse(conn_id, early, received)
            outcome = Outcome("refused", 401, "bad_settings")
            return await answer(conn_id, outcome, UNAUTHENTICATED, received)
        except Exception as exc:  # the secrets backend or database is down: HighLevel must retry
            log.warning("Could not read the webhook settings (%s); asked for a retry", type(exc).__name__)
            return JSONResponse(
                {"detail": "busy, retry later"}, status_code=429, headers={"Retry-After": str(RETRY_AFTER)}
            )
        if settings is None:
            # Not logged to the delivery log: only opted-in connections have one.
            log.info("Refused a webhook for %s: not a connection that receives webhooks", printable(conn_id))
            if early is not None:
                return JSONResponse({"detail": early.reason}, status_code=early.status)
            return JSONResponse(UNAUTHENTICATED, status_code=401)
        if early is not None:
            return await refuse(conn_id, early, received)
        event: WebhookEvent | None = None
        try:
            verify_signature(body, request.headers, settings.keys)
            event = parse_event(body)
            check_fresh(event, clock(), settings.max_age)
        except WebhookRefused as refused:
            return await refuse(conn_id, refused, received, event)
        if event.family is None or event.location_id is None:
            log.info("Ignored webhook %s", event.describe())
            outcome = Outcome("ignored", 200, "unhandled_type", **_event_fields(event))
            return await answer(conn_id, outcome, {"status": "ignored"}, received)
        try:
            owned = await run_in_threadpool(owns_location, conn_id, settings, event.location_id)
        except Exception as exc:
            return await retry_later(
                conn_id,
                f"read the locations of {printable(conn_id)}",
                exc,
                "locations_unreadable",
                received,
                event,
            )
        if not owned:
            foreign = WebhookRefused(
                403, "locationId is not a location of this connection", "foreign_location"
            )
            return await refuse(conn_id, foreign, received, event)
        try:
            status = await run_in_threadpool(record, conn_id, event)
        except Exception as exc:
            return await retry_later(
                conn_id, f"record webhook {event.describe()}", exc, "record_failed", received, event
            )
        log.info("Webhook %s: %s", event.describe(), status)
        outcome = {
            "recorded": Outcome("recorded", 200),
            "duplicate": Outcome("duplicate", 200, "seen_before"),
        }.get(status, Outcome("ignored", 200, status))
        outcome = Outcome(outcome.outcome, 200, outcome.reason, **_event_fields(event))
        return await answer(conn_id, outcome, {"status": status}, received)

    return app

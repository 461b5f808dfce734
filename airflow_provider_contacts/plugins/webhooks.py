"""
The webhook receiver as an Airflow plugin: ``POST /contacts-webhooks/{conn_id}`` on the API server.

Each accepted delivery becomes an asset event on
:func:`~airflow_provider_contacts.assets.contacts_asset` ``(locationId, family)``, recorded the way the REST
route ``POST /api/v2/assets/events`` records one (``asset_manager.register_asset_change`` with a session),
in the same transaction as the claim of its ``webhookId`` in the replay table: an event is recorded exactly
when its id is remembered, whichever API server gets it and however often it comes.

Only connections that opted in (``webhook_public_key`` or ``webhook_accept_legacy``) receive webhooks. Their
settings are cached for :data:`SETTINGS_TTL` seconds; an id that does not exist or did not opt in is
remembered as such for :data:`UNKNOWN_TTL` seconds (a bounded cache), so that a flood of requests for
made-up ids does not reach the secrets backends on each request.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import datetime, timezone

from airflow.plugins_manager import AirflowPlugin
from cachetools import TTLCache
from sqlalchemy.engine import Engine

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.webhooks.receiver import ReceiverSettings, create_receiver_app
from airflow_provider_contacts.webhooks.store import Outcome, ReplayStore, write_outcome
from airflow_provider_contacts.webhooks.verify import WebhookEvent, printable

log = logging.getLogger(__name__)

URL_PREFIX = "/contacts-webhooks"
#: Seconds a connection's webhook settings are cached (a key change takes effect within this time).
SETTINGS_TTL = 60.0
#: Seconds an id that does not exist or did not opt in is answered from memory.
UNKNOWN_TTL = 60.0
#: Seconds an agency connection's installed locations are kept; an event of a location not among them
#: reads them again, at most once per :data:`LOCATIONS_REFRESH` seconds (a new install is seen at once).
LOCATIONS_TTL = 3600.0
LOCATIONS_REFRESH = 60.0
#: Airflow's connection ids: letters, digits, ``_``, ``.``, ``-``, at most 250 (``airflow.utils.helpers``).
_CONN_ID = re.compile(r"[\w.-]{1,250}")

_store = ReplayStore()
_lock = threading.Lock()
_settings: TTLCache[str, ReceiverSettings | ContactsConfigError] = TTLCache(maxsize=1024, ttl=SETTINGS_TTL)
_unknown: TTLCache[str, bool] = TTLCache(maxsize=10_000, ttl=UNKNOWN_TTL)
_installed: TTLCache[str, tuple[float, frozenset[str]]] = TTLCache(maxsize=256, ttl=LOCATIONS_TTL)


def connection_settings(conn_id: str) -> ReceiverSettings | None:
    """
    Read a connection's webhook settings (cached for :data:`SETTINGS_TTL` seconds).

    :param conn_id: the connection id of the URL.
    :return: the settings; None when there is no such connection or it does not receive webhooks.
    :raises ContactsConfigError: its webhook settings are unusable (also cached).
    """
    if not _CONN_ID.fullmatch(conn_id):
        return None
    with _lock:
        if conn_id in _unknown:
            return None
        cached = _settings.get(conn_id)
    if isinstance(cached, ContactsConfigError):
        raise cached
    if cached is not None:
        return cached
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    try:
        connection = Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        settings = None
    else:
        try:
            settings = ReceiverSettings.from_extra(connection.extra_dejson, f"connection {conn_id!r}")
        except ContactsConfigError as exc:
            with _lock:
                _settings[conn_id] = exc
            raise
    with _lock:
        if settings is None:
            _unknown[conn_id] = True
        else:
            _settings[conn_id] = settings
    return settings


def owns_location(conn_id: str, settings: ReceiverSettings, location_id: str) -> bool:
    """
    Whether a connection takes a location's events: its ``location_id``, or for an agency connection a
    location where its app is installed (read from HighLevel, cached).

    :param conn_id: the connection.
    :param settings: its webhook settings.
    :param location_id: the event's location.
    """
    if location_id in settings.location_ids:
        return True
    if not settings.agency:
        return False
    with _lock:
        known = _installed.get(conn_id)
    if known is not None and (location_id in known[1] or time.monotonic() - known[0] < LOCATIONS_REFRESH):
        return location_id in known[1]
    from airflow_provider_contacts.operators.agency import installed_location_ids

    ids = frozenset(installed_location_ids(conn_id))
    log.info("Read the %d installed locations of agency connection %s", len(ids), printable(conn_id))
    with _lock:
        _installed[conn_id] = (time.monotonic(), ids)
    return location_id in ids


def _engine() -> Engine:
    from airflow import settings

    assert settings.engine is not None
    _store.ensure_table(settings.engine)
    return settings.engine


def log_outcome(conn_id: str, outcome: Outcome, received_at: datetime) -> None:
    """
    Add a line to the delivery log in the metadata database.

    :param conn_id: the connection.
    :param outcome: what was answered.
    :param received_at: when the delivery came.
    """
    with _engine().begin() as connection:
        write_outcome(connection, conn_id, outcome, received_at)
        _store.prune(connection, received_at)


def record_event(conn_id: str, event: WebhookEvent) -> str:
    """
    Claim the delivery's id and record its asset event, in one transaction of the metadata database.

    :param conn_id: the connection the delivery came for (only logged).
    :param event: the verified event.
    :return: ``recorded``, ``duplicate`` or ``no_asset`` (no DAG uses the asset; nothing is remembered).
    """
    from airflow.assets.manager import asset_manager
    from airflow.serialization.definitions.assets import SerializedAssetUniqueKey
    from airflow.utils.session import create_session

    from airflow_provider_contacts.assets import contacts_asset

    assert event.location_id is not None and event.family is not None
    asset = contacts_asset(event.location_id, event.family)
    now = datetime.now(timezone.utc)
    _engine()
    with create_session() as session:
        connection = session.connection()
        if not _store.claim(connection, event.webhook_id, now):
            session.rollback()
            return "duplicate"
        recorded = asset_manager.register_asset_change(
            asset=SerializedAssetUniqueKey(name=asset.name, uri=asset.uri),
            extra=event.extra(),
            source_is_api=True,
            session=session,
        )
        if recorded is None:
            session.rollback()
            log.warning(
                "No DAG uses asset %s; webhook %s not recorded",
                printable(asset.uri),
                printable(event.webhook_id),
            )
            return "no_asset"
        _store.prune(connection, now)
    return "recorded"


class ContactsWebhooksPlugin(AirflowPlugin):
    """Mounts the HighLevel webhook receiver on the API server under ``/contacts-webhooks``."""

    name = "contacts_webhooks"
    fastapi_apps = [
        {
            "app": create_receiver_app(
                connection_settings, record_event, owns_location=owns_location, log_outcome=log_outcome
            ),
            "url_prefix": URL_PREFIX,
            "name": "HighLevel webhooks",
        }
    ]

"""
The webhook receiver as an Airflow plugin: ``POST /contacts-webhooks/{conn_id}`` on the API server.

Each accepted delivery becomes an asset event on
:func:`~airflow_provider_contacts.assets.contacts_asset` ``(locationId, family)``, recorded the way the REST
route ``POST /api/v2/assets/events`` records one (``asset_manager.register_asset_change`` with a session),
in the same transaction as the claim of its ``webhookId`` in the replay table: an event is recorded exactly
when its id is remembered, whichever API server gets it and however often it comes.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_contacts.webhooks.receiver import ReceiverSettings, create_receiver_app
from airflow_provider_contacts.webhooks.store import ReplayStore
from airflow_provider_contacts.webhooks.verify import WebhookEvent, WebhookRefused

log = logging.getLogger(__name__)

URL_PREFIX = "/contacts-webhooks"
#: Seconds a connection's webhook settings are cached (a key change takes effect within this time).
SETTINGS_TTL = 60.0

_store = ReplayStore()
_settings_cache: dict[str, tuple[float, ReceiverSettings]] = {}
_settings_lock = threading.Lock()


def connection_settings(conn_id: str) -> ReceiverSettings:
    """
    Read a connection's webhook settings (cached for :data:`SETTINGS_TTL` seconds).

    :param conn_id: the connection id of the URL.
    :raises WebhookRefused: 401 when there is no such connection.
    """
    now = time.monotonic()
    cached = _settings_cache.get(conn_id)
    if cached is not None and now - cached[0] < SETTINGS_TTL:
        return cached[1]
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    try:
        connection = Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException as exc:
        raise WebhookRefused(401, "unknown connection") from exc
    settings = ReceiverSettings.from_extra(connection.extra_dejson)
    with _settings_lock:
        _settings_cache[conn_id] = (now, settings)
    return settings


def record_event(conn_id: str, event: WebhookEvent) -> str:
    """
    Claim the delivery's id and record its asset event, in one transaction of the metadata database.

    :param conn_id: the connection the delivery came for (only logged).
    :param event: the verified event.
    :return: ``recorded``, ``duplicate`` or ``no_asset`` (no DAG uses the asset; nothing is remembered).
    """
    from airflow import settings
    from airflow.assets.manager import asset_manager
    from airflow.serialization.definitions.assets import SerializedAssetUniqueKey
    from airflow.utils.session import create_session

    from airflow_provider_contacts.assets import contacts_asset

    assert event.location_id is not None and event.family is not None
    asset = contacts_asset(event.location_id, event.family)
    now = datetime.now(timezone.utc)
    assert settings.engine is not None
    _store.ensure_table(settings.engine)
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
            log.warning("No DAG uses asset %s; webhook %s not recorded", asset.uri, event.webhook_id)
            return "no_asset"
        _store.prune(connection, now)
    return "recorded"


class ContactsWebhooksPlugin(AirflowPlugin):
    """Mounts the HighLevel webhook receiver on the API server under ``/contacts-webhooks``."""

    name = "contacts_webhooks"
    fastapi_apps = [
        {
            "app": create_receiver_app(connection_settings, record_event),
            "url_prefix": URL_PREFIX,
            "name": "HighLevel webhooks",
        }
    ]

"""
The asset watchers of the provider's triggers: each one's watermark (from the asset state store, where the
watcher keeps it) and its lag behind now.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

TRIGGERS_MODULE = "airflow_provider_contacts.triggers."


def watcher_states(session: Session, now: datetime) -> list[dict[str, Any]]:
    """
    Every asset watcher whose trigger is one of the provider's, with its watermark and lag.

    :param session: a metadata database session.
    :param now: the current time (aware).
    """
    from airflow.models.asset import AssetModel, AssetWatcherModel
    from airflow.models.asset_state_store import AssetStateStoreModel
    from airflow.models.trigger import Trigger
    from sqlalchemy import select

    from airflow_provider_contacts.triggers.contacts import ContactChangedEventTrigger

    query = (
        select(AssetWatcherModel.name, AssetModel.id, AssetModel.uri, Trigger.encrypted_kwargs)
        .join(AssetModel, AssetModel.id == AssetWatcherModel.asset_id)
        .join(Trigger, Trigger.id == AssetWatcherModel.trigger_id)
        .where(Trigger.classpath.startswith(TRIGGERS_MODULE))
        .order_by(AssetModel.uri, AssetWatcherModel.name)
    )
    watchers = []
    for name, asset_id, uri, encrypted in session.execute(query):
        try:
            kwargs = Trigger._decrypt_kwargs(encrypted)
        except Exception as error:  # a key rotated away: the watcher is listed without its settings
            log.warning("cannot read the settings of watcher %s: %s", name, type(error).__name__)
            kwargs = {}
        location = kwargs.get("location_id")
        key = ContactChangedEventTrigger.WATERMARK_KEY + (f"__{location}" if location else "")
        row = session.execute(
            select(AssetStateStoreModel.value, AssetStateStoreModel.updated_at).where(
                AssetStateStoreModel.asset_id == asset_id, AssetStateStoreModel.key == key
            )
        ).first()
        since = _since(row.value) if row is not None else None
        watchers.append(
            {
                "name": name,
                "asset": uri,
                "conn_id": kwargs.get("contacts_conn_id"),
                "location_id": location,
                "event": kwargs.get("event"),
                "poll_interval_s": kwargs.get("poll_interval"),
                "watermark": since.isoformat(timespec="seconds") if since else None,
                "lag_s": round((now - since).total_seconds()) if since else None,
                "saved_at": _aware(row.updated_at).isoformat(timespec="seconds") if row is not None else None,
            }
        )
    return watchers


def _since(value: str) -> datetime | None:
    from airflow_provider_contacts.coercion import to_datetime

    try:
        watermark = json.loads(value)
        return to_datetime(watermark.get("since"), "watermark") if isinstance(watermark, dict) else None
    except ValueError:
        return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

"""The assets that HighLevel webhooks update, one per location and event family."""

from __future__ import annotations

from airflow.sdk import Asset

#: The families of events an asset can stand for.
KINDS = ("contacts", "tasks", "notes", "appointments")


def contacts_asset(location_id: str, kind: str = "contacts") -> Asset:
    """
    Return the asset the webhook receiver records an event on for each delivery of ``kind`` in a location.

    ``schedule=[contacts_asset("ve9EPM428h8vShlRW1KT")]`` runs a DAG for every contact webhook (create,
    update, delete, tags, DND) of that location; the event's ``extra`` carries the ``type`` and the ids.

    :param location_id: the HighLevel location (sub-account) id.
    :param kind: ``contacts``, ``tasks``, ``notes`` or ``appointments``.
    :raises ValueError: an unknown kind or an empty location id.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, not {kind!r}")
    if not location_id or "/" in location_id:
        raise ValueError(f"location_id must be a HighLevel location id, not {location_id!r}")
    return Asset(name=f"highlevel_{kind}_{location_id}", uri=f"highlevel://{location_id}/{kind}", group=kind)

"""The assets that HighLevel webhooks update, one per location and event family, and reading their events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


def held_back_asset_events(
    inlet_events: Any, dag_run: Any, assets: Iterable[Asset]
) -> dict[Asset, list[Any]]:
    """
    Return the events of ``assets`` that Airflow's scheduler held back from every run: read them in an
    asset-triggered run's first task, next to ``triggering_asset_events``.

    An asset event that arrives while its asset already waits in the DAG's run queue (a run of a DAG with
    ``max_active_runs=1`` is still active, or the scheduler has not made the run yet) is not among the
    triggering events of the run made from that queue, and queues no other run: it waits for the DAG's next
    event, however long that takes (apache/airflow#56050, Airflow 3.3). Those events lie after the run's
    ``run_after`` (its triggering events end there) and before the run started; an event already handled
    by another run may be among them, so the work they start must be idempotent, as onboarding by tag is.

    The task must declare ``assets`` as its ``inlets``. A run that no asset triggered gets ``{}``::

        @task(inlets=[webhooks, created])
        def contact_ids(triggering_asset_events=None, inlet_events=None, dag_run=None): ...

    :param inlet_events: the task's ``inlet_events``.
    :param dag_run: the task's ``dag_run``.
    :param assets: the DAG's schedule assets, each an inlet of the task.
    :raises ValueError: an asset that is not an inlet of the task.
    """
    if dag_run is None or dag_run.run_type != "asset_triggered":  # DagRunType is a str enum
        return {}
    after = dag_run.run_after
    held_back: dict[Asset, list[Any]] = {}
    for asset in assets:
        try:
            accessor = inlet_events[asset]
        except KeyError:
            raise ValueError(
                f"asset {asset.name!r} must be an inlet of the task that reads its events"
            ) from None
        accessor = accessor.after(after.isoformat())
        if dag_run.start_date is not None:
            accessor = accessor.before(dag_run.start_date.isoformat())
        held_back[asset] = [event for event in accessor if event.timestamp > after]
    return held_back

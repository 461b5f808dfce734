"""The assets that HighLevel webhooks update, one per location and event family, and reading their events."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import httpx
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType

from airflow_provider_contacts.lineage import SCHEME

if TYPE_CHECKING:
    from urllib.parse import SplitResult

log = logging.getLogger(__name__)

# SCHEME (``highlevel://<location id>/<kind>``) is registered by the provider so Airflow validates a
# hand-written ``Asset("highlevel://...")`` and OpenLineage names it like the operators' datasets.
#: The families of events an asset can stand for.
KINDS = ("contacts", "tasks", "notes", "appointments")
#: A location id: letters, digits, ``_`` and ``-`` (HighLevel's are 20 alphanumerics; the sandbox's shorter).
LOCATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_location_and_kind(location_id: str, kind: str) -> None:
    """
    Check a HighLevel asset's location id and kind.

    :param location_id: the HighLevel location (sub-account) id.
    :param kind: ``contacts``, ``tasks``, ``notes`` or ``appointments``.
    :raises ValueError: an unknown kind, or a location id that is empty or has other characters.
    """
    if kind not in KINDS:
        raise ValueError(f"HighLevel asset kind must be one of {list(KINDS)}, not {kind!r}")
    if not isinstance(location_id, str) or not LOCATION_ID.fullmatch(location_id):
        raise ValueError(
            f"HighLevel asset location_id must be a location id (letters, digits, _ and -), not {location_id!r}"
        )


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """
    Airflow's normaliser of ``highlevel://`` URIs: check the location (the host part) and the kind (the path).

    :param uri: the URI, split and already normalised by Airflow (no trailing slash, no fragment).
    :raises ValueError: a bad location id or kind, or a query, user, password or port.
    """
    if uri.query or "@" in uri.netloc:
        raise ValueError(f"A HighLevel asset URI is highlevel://<location id>/<kind>, not {uri.geturl()!r}")
    check_location_and_kind(uri.netloc, uri.path.removeprefix("/"))
    return uri


def create_asset(*, location_id: str, kind: str = "contacts", extra: dict[str, Any] | None = None) -> Asset:
    """
    Airflow's factory of ``highlevel`` assets (hook-level lineage): the asset of :func:`contacts_asset`.

    :param location_id: the HighLevel location (sub-account) id.
    :param kind: ``contacts``, ``tasks``, ``notes`` or ``appointments``.
    :param extra: the asset's extra.
    """
    asset = contacts_asset(location_id, kind)
    return Asset(name=asset.name, uri=asset.uri, group=asset.group, extra=extra)


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> Any:
    """
    Airflow's OpenLineage converter of ``highlevel`` assets: the dataset the provider's operators report.

    :param asset: an asset with a ``highlevel://`` URI.
    :param lineage_context: OpenLineage's context (unused).
    """
    from urllib.parse import urlsplit

    from airflow_provider_contacts.lineage import highlevel_datasets

    parsed = urlsplit(asset.uri)
    return highlevel_datasets(parsed.netloc, [parsed.path.removeprefix("/")])[0]


def contacts_asset(location_id: str, kind: str = "contacts") -> Asset:
    """
    Return the asset the webhook receiver records an event on for each delivery of ``kind`` in a location.

    ``schedule=[contacts_asset("ve9EPM428h8vShlRW1KT")]`` runs a DAG for every contact webhook (create,
    update, delete, tags, DND) of that location; the event's ``extra`` carries the ``type`` and the ids.

    :param location_id: the HighLevel location (sub-account) id.
    :param kind: ``contacts``, ``tasks``, ``notes`` or ``appointments``.
    :raises ValueError: an unknown kind or a bad location id.
    """
    check_location_and_kind(location_id, kind)
    return Asset(name=f"highlevel_{kind}_{location_id}", uri=f"{SCHEME}://{location_id}/{kind}", group=kind)


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

    An asset whose events the API server cannot list (it answers 500) gets ``[]`` and a warning, and the run
    goes on: Airflow 3.3.2 answers so while a run made from one of the events has not started
    (apache/airflow#71360), which is the DAG's next run whenever ``max_active_runs=1`` holds it queued behind
    this one. That run, or the DAG's next, gets those events as its triggering events; failing this run would
    only hold the queued one back until this one's retries are spent.

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
        try:
            held_back[asset] = [event for event in accessor if event.timestamp > after]
        except (AirflowRuntimeError, httpx.HTTPStatusError) as error:
            if not _server_failed(error):
                raise
            log.warning(
                "The API server could not list the events of asset %r (HTTP 500); reading none of them in "
                "this run. On Airflow 3.3.2 this happens while a run made from one of them has not started "
                "(apache/airflow#71360); that run, or this DAG's next, gets them as its triggering events.",
                asset.name,
            )
            held_back[asset] = []
    return held_back


def _server_failed(error: AirflowRuntimeError | httpx.HTTPStatusError) -> bool:
    """
    Whether the API server answered 500: passed on by a task's supervisor process (an ``AirflowRuntimeError``,
    after the Task SDK's retries), or raised as it is by ``dag.test()``, whose supervisor runs in the task's
    process.
    """
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code == 500
    detail = error.error.detail if isinstance(error.error.detail, dict) else {}
    return error.error.error == ErrorType.API_SERVER_ERROR and detail.get("status_code") == 500

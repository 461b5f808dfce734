"""
Everything the operations view shows, per ``contacts`` connection, as one JSON-ready dict.

Only reads: token stores are loaded (never refreshed), Redis keys counted, tables selected. A part that cannot
be read says so in its ``error`` and the others are still shown. No secret is in the result: token stores
give times and counts (:func:`~.tokens.token_state`), Redis URLs lose their password.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_contacts.operations import budget, runs, tokens, watchers
from airflow_provider_contacts.webhooks.store import delivery_counts, recent_deliveries

log = logging.getLogger(__name__)

CONN_TYPE = "contacts"
#: Deliveries listed per connection.
RECENT_DELIVERIES = 20


def contacts_connections() -> list[tuple[str, str | None]]:
    """
    The ``contacts`` connections this server can list, with their team: the metadata database's and those
    in ``AIRFLOW_CONN_*`` environment variables (other secrets backends cannot be listed).
    """
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    found: dict[str, str | None] = {}
    with create_session() as session:
        rows = session.execute(
            select(Connection.conn_id, Connection.team_name).where(Connection.conn_type == CONN_TYPE)
        )
        found.update({conn_id: team for conn_id, team in rows})
    for name in os.environ:
        if not name.startswith("AIRFLOW_CONN_") or name[13:].lower() in found:
            continue
        conn_id = name[13:].lower()
        try:
            if Connection.get_connection_from_secrets(conn_id).conn_type == CONN_TYPE:
                found[conn_id] = None
        except Exception as error:  # an unreadable variable is not ours to report here
            log.debug("environment connection %s not read: %s", conn_id, type(error).__name__)
    return sorted(found.items())


def _part(name: str, read: Callable[[], Any]) -> Any:
    """Read one part of a section; a failure becomes ``{"error": ...}`` (its type and message, no trace)."""
    try:
        return read()
    except Exception as error:
        log.warning("operations view: %s not read: %s: %s", name, type(error).__name__, error)
        return {"error": f"{type(error).__name__}: {error}"[:300]}


def auth_state(conn: Any, settings: Any, now: float) -> dict[str, Any]:
    """
    A connection's authentication: its type, location or company, and its token store's state.

    :param conn: the Airflow connection.
    :param settings: its ``ContactsSettings``.
    :param now: the current time in epoch seconds.
    """
    from airflow_provider_contacts.transport.sync import default_store

    state: dict[str, Any] = {
        "type": settings.auth_type,
        "location_id": settings.location_id,
        "company_id": settings.company_id,
    }
    if settings.auth_type == "private_token":
        return {**state, "token": {"static": True}}
    store = default_store(settings)
    state["store"] = repr(store)
    state["token"] = tokens.token_state(store.load(), now)
    return state


def connection_section(
    conn_id: str,
    session: Any,
    engine: Any,
    all_runs: list[dict[str, Any]],
    all_watchers: list[dict[str, Any]],
) -> dict[str, Any]:
    """
    One connection's section of the view.

    :param conn_id: the connection.
    :param session: a metadata database session.
    :param engine: the metadata database's engine (for the webhook outcomes).
    :param all_runs: the runs of every connection, newest first.
    :param all_watchers: every watcher of the provider's triggers.
    """
    from airflow.models.connection import Connection

    from airflow_provider_contacts.transport.settings import ContactsSettings

    now = datetime.now(timezone.utc)
    section: dict[str, Any] = {"conn_id": conn_id}
    try:
        conn = Connection.get_connection_from_secrets(conn_id)
        settings = ContactsSettings.from_connection(conn)
    except Exception as error:
        section["error"] = f"{type(error).__name__}: {error}"[:300]
        return section
    section["auth"] = _part("authentication", lambda: auth_state(conn, settings, time.time()))
    section["rate_budget"] = _part("rate budget", lambda: budget.budget_state(settings))
    section["runs"] = runs.last_runs(all_runs, conn_id)
    section["webhooks"] = _part("webhooks", lambda: webhook_state(engine, conn_id, now))
    section["watchers"] = [w for w in all_watchers if w["conn_id"] == conn_id]
    return section


def webhook_state(engine: Any, conn_id: str, now: datetime) -> dict[str, Any]:
    """
    A connection's webhook deliveries: counts of the last hour and day by outcome, and the newest ones.

    :param engine: the metadata database's engine.
    :param conn_id: the connection.
    :param now: the current time (aware).
    """
    recent = [
        {key: value for key, value in delivery.items() if key not in ("id", "conn_id")}
        for delivery in recent_deliveries(engine, conn_id, RECENT_DELIVERIES)
    ]
    for delivery in recent:
        delivery["received_at"] = delivery["received_at"].isoformat(timespec="seconds")
    return {
        "last_hour": delivery_counts(engine, conn_id, now - timedelta(hours=1)),
        "last_day": delivery_counts(engine, conn_id, now - timedelta(days=1)),
        "recent": recent,
    }


def collect_status(permitted: Callable[[Iterable[tuple[str, str | None]]], set[str]]) -> dict[str, Any]:
    """
    The operations view's facts for every ``contacts`` connection the caller may read.

    :param permitted: given ``(conn_id, team)`` pairs, the connection ids the caller may read.
    """
    from airflow import settings as airflow_settings
    from airflow.configuration import conf
    from airflow.utils.session import create_session

    now = datetime.now(timezone.utc)
    listed = contacts_connections()
    allowed = permitted(listed)
    conn_ids = [conn_id for conn_id, _ in listed if conn_id in allowed]
    audit_conn_id = conf.get("contacts", "ops_audit_conn_id", fallback=None) or None
    with create_session() as session:
        all_runs = _part("runs", lambda: runs.from_reports(session))
        audited = _part("audit", lambda: runs.from_audit(audit_conn_id))
        all_watchers = _part("watchers", lambda: watchers.watcher_states(session, now))
        problems = {
            name: part["error"]
            for name, part in (("runs", all_runs), ("audit", audited), ("watchers", all_watchers))
            if isinstance(part, dict)
        }
        merged = [
            *(all_runs if isinstance(all_runs, list) else []),
            *(audited if isinstance(audited, list) else []),
        ]
        watching = all_watchers if isinstance(all_watchers, list) else []
        sections = [
            connection_section(conn_id, session, airflow_settings.engine, merged, watching)
            for conn_id in conn_ids
        ]
    return {
        "generated_at": now.isoformat(timespec="seconds"),
        "limits": {"per_window": 100, "window_s": 10, "per_day": budget.DEFAULT_DAILY_LIMIT},
        "audit_conn_id": audit_conn_id,
        "errors": problems,
        "connections": sections,
    }


def figures(status: dict[str, Any], conn_id: str) -> dict[str, Any]:
    """
    The headline numbers of one connection in a status (for checks after a run, e.g. the deployment tier).

    :param status: what ``GET /contacts-ops/api/status`` answered.
    :param conn_id: the connection.
    :return: ``refreshes_today``, ``refused_today``, ``syncs`` (location -> state of its last sync, per
        DAG and task), ``webhooks_day`` (outcome -> count), ``requests_today`` (location -> count).
    :raises KeyError: the status has no section for the connection, or the section could not be read.
    """
    (section,) = [s for s in status["connections"] if s["conn_id"] == conn_id] or [None]
    if section is None:
        raise KeyError(f"no section for connection {conn_id!r} in the status")
    if "error" in section:
        raise KeyError(f"the section of connection {conn_id!r} could not be read: {section['error']}")
    token = section["auth"].get("token") or {}
    syncs: dict[str, dict[str, Any]] = {}
    for run in section["runs"]:
        if run["kind"] == "sync":
            where = f"{run['dag_id']}/{run['task_id'] or run['source']}"
            syncs.setdefault(str(run["location_id"]), {})[where] = run["state"]
    return {
        "refreshes_today": token.get("refreshes_today"),
        "refused_today": token.get("refused_today"),
        "syncs": syncs,
        "webhooks_day": dict(section["webhooks"].get("last_day") or {}),
        "requests_today": {
            r["location_id"]: r["today"] for r in section["rate_budget"].get("locations") or []
        },
    }

"""
The operations view as an Airflow plugin: ``GET /contacts-ops/`` (the page) and ``GET /contacts-ops/api/status``
(the same facts as JSON) on the API server, listed in the UI's navigation (``external_views``: the UI shows the
page in a frame, and the browser sends the user's Airflow session with it).

Both routes go through Airflow's auth manager: ``requires_access_connection("GET")`` refuses an anonymous
caller (401) and a user who may not read connections (403), and the page lists only the connections the
auth manager lets the user read. Nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_connection
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

from airflow_provider_contacts.operations.page import render
from airflow_provider_contacts.operations.status import collect_status

URL_PREFIX = "/contacts-ops"


def _permitted(user: Any) -> Any:
    """The connection ids among ``(conn_id, team)`` pairs that the auth manager lets ``user`` read."""
    from airflow.api_fastapi.app import get_auth_manager

    def permitted(listed: Iterable[tuple[str, str | None]]) -> set[str]:
        by_team: dict[str | None, set[str]] = defaultdict(set)
        for conn_id, team in listed:
            by_team[team].add(conn_id)
        manager = get_auth_manager()
        allowed: set[str] = set()
        for team, conn_ids in by_team.items():
            allowed |= manager.filter_authorized_connections(
                conn_ids=conn_ids, user=user, method="GET", team_name=team
            )
        return allowed

    return permitted


def create_operations_app() -> FastAPI:
    """The FastAPI app of the view (mounted under :data:`URL_PREFIX`)."""
    app = FastAPI(
        title="HighLevel Contacts: operations",
        description="Token, rate budget, syncs, webhooks and watchers of every contacts connection (read-only).",
        dependencies=[Depends(requires_access_connection("GET"))],
    )

    @app.get("/api/status")
    def status(user: GetUserDep) -> dict[str, Any]:
        """The facts of every contacts connection the user may read."""
        return collect_status(_permitted(user))

    @app.get("/", response_class=HTMLResponse)
    def page(user: GetUserDep) -> HTMLResponse:
        """The same facts as a page."""
        return HTMLResponse(render(collect_status(_permitted(user))), headers={"Cache-Control": "no-store"})

    return app


class ContactsOperationsPlugin(AirflowPlugin):
    """Mounts the operations view on the API server and lists it in the UI's navigation."""

    name = "contacts_operations"
    fastapi_apps = [
        {"app": create_operations_app(), "url_prefix": URL_PREFIX, "name": "HighLevel Contacts operations"}
    ]
    external_views = [
        {
            "name": "HighLevel Contacts",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "contacts-ops",
        }
    ]

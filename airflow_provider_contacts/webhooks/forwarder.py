"""
The standalone webhook forwarder: the receiver's verification outside the API server.

For deployments whose API server is not reachable from the internet: this small ASGI app runs where
HighLevel can reach it, verifies each delivery exactly as the plugin does (signature, timestamp window,
replay by ``webhookId`` in a database of its own), and passes accepted events to Airflow's REST API
(``POST /api/v2/assets/events``) on :func:`~airflow_provider_contacts.assets.contacts_asset`.

If Airflow refuses or cannot be reached, the claim of the ``webhookId`` is released and HighLevel gets a
429, so its retry (HighLevel retries only after a 429) is accepted later: nothing is lost or recorded twice.

Run it with uvicorn, configured by environment variables::

    CONTACTS_WEBHOOK_PUBLIC_KEY=MCowBQYDK2VwAyEA...          # the app's Ed25519 key
    CONTACTS_WEBHOOK_LOCATION_IDS=ve9EPM428h8vShlRW1KT       # the locations whose events are taken (commas)
    # optional: CONTACTS_WEBHOOK_ACCEPT_LEGACY=true (x-wh-signature), CONTACTS_WEBHOOK_MAX_AGE (seconds)
    CONTACTS_WEBHOOK_AIRFLOW_URL=http://airflow-api:8080
    CONTACTS_WEBHOOK_AIRFLOW_USERNAME=... CONTACTS_WEBHOOK_AIRFLOW_PASSWORD=...  # or _AIRFLOW_TOKEN
    CONTACTS_WEBHOOK_STORE_URL=postgresql://...             # default sqlite:///contacts-webhooks.db
    uvicorn --factory airflow_provider_contacts.webhooks.forwarder:app_from_env --port 8090

HighLevel's webhook URL is then ``https://<forwarder>/contacts_default`` (the path names
``CONTACTS_WEBHOOK_NAME``, default ``contacts_default``; any other path gets the answer of a connection
that does not receive webhooks). Its delivery log is in the store's database.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from datetime import datetime, timezone

import requests
from fastapi import FastAPI
from sqlalchemy import create_engine

from airflow_provider_contacts.coercion import to_list
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.transport.sync import new_session
from airflow_provider_contacts.webhooks.receiver import ReceiverSettings, create_receiver_app
from airflow_provider_contacts.webhooks.store import Outcome, ReplayStore, write_outcome
from airflow_provider_contacts.webhooks.verify import DEFAULT_MAX_AGE, WebhookEvent, WebhookKeys

DEFAULT_STORE_URL = "sqlite:///contacts-webhooks.db"


class AirflowAssetsClient:
    """
    Posts asset events to Airflow's REST API, with a JWT from ``/auth/token`` (renewed on a 401).

    :param base_url: the API server's URL.
    :param token: a ready token; otherwise one is requested with ``username``/``password``.
    :param username: an Airflow user allowed to create asset events.
    :param password: its password.
    :param timeout: seconds per request.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._credentials = (username, password) if username else None
        self.timeout = timeout
        self._session = new_session()  # a bearer session: ~/.netrc never replaces the token
        self._asset_ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def _fetch_token(self) -> str:
        if self._credentials is None:
            raise RuntimeError("Airflow refused the forwarder's token and no username/password is configured")
        username, password = self._credentials
        response = self._session.post(
            f"{self.base_url}/auth/token",
            json={"username": username, "password": password},
            timeout=self.timeout,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def _request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        for attempt in (1, 2):
            if self._token is None:
                self._token = self._fetch_token()
            response = self._session.request(
                method,
                self.base_url + path,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self.timeout,
                **kwargs,  # type: ignore[arg-type]
            )
            if response.status_code == 401 and attempt == 1 and self._credentials is not None:
                self._token = None
                continue
            response.raise_for_status()
            return response
        raise AssertionError("unreachable")

    def asset_id(self, uri: str) -> int | None:
        """
        Return Airflow's id of the asset with this URI (cached), or None when no DAG uses it.

        :param uri: the asset's URI.
        """
        with self._lock:
            if uri in self._asset_ids:
                return self._asset_ids[uri]
        assets = self._request("GET", "/api/v2/assets", params={"uri_pattern": uri, "limit": 100}).json()
        for asset in assets.get("assets", []):
            if asset["uri"] == uri:
                with self._lock:
                    self._asset_ids[uri] = asset["id"]
                return asset["id"]
        return None

    def create_event(self, asset_id: int, extra: dict[str, object]) -> None:
        """
        Record an asset event.

        :param asset_id: the asset.
        :param extra: the event's extra.
        """
        self._request("POST", "/api/v2/assets/events", json={"asset_id": asset_id, "extra": extra})


def create_forwarder_app(
    airflow: AirflowAssetsClient,
    keys: WebhookKeys,
    *,
    location_ids: list[str],
    store_url: str = DEFAULT_STORE_URL,
    name: str = "contacts_default",
    max_age: float = DEFAULT_MAX_AGE,
) -> FastAPI:
    """
    Build the forwarder: ``POST /{name}`` verifies and passes events to Airflow.

    :param airflow: the client of Airflow's REST API.
    :param keys: the verification keys (a legacy key only when legacy deliveries are accepted).
    :param location_ids: the locations whose events are taken; others are refused (403).
    :param store_url: SQLAlchemy URL of the replay table's and delivery log's database.
    :param name: the only path accepted (others get the answer of an unknown connection of the plugin).
    :param max_age: the timestamp window in seconds.
    """
    from airflow_provider_contacts.assets import contacts_asset

    if not location_ids:
        raise ContactsConfigError("the forwarder needs the location ids whose events it takes")
    engine = create_engine(store_url)
    store = ReplayStore()
    settings = ReceiverSettings(keys, max_age, frozenset(location_ids))

    def settings_for(conn_id: str) -> ReceiverSettings | None:
        return settings if conn_id == name else None

    def log_outcome(conn_id: str, outcome: Outcome, received_at: datetime) -> None:
        store.ensure_table(engine)
        with engine.begin() as connection:
            write_outcome(connection, conn_id, outcome, received_at)
            store.prune(connection, received_at)

    def record(conn_id: str, event: WebhookEvent) -> str:
        assert event.location_id is not None and event.family is not None
        asset_id = airflow.asset_id(contacts_asset(event.location_id, event.family).uri)
        if asset_id is None:
            return "no_asset"
        store.ensure_table(engine)
        now = datetime.now(timezone.utc)
        with engine.begin() as connection:
            if not store.claim(connection, event.webhook_id, now):
                return "duplicate"
            store.prune(connection, now)
        try:
            airflow.create_event(asset_id, event.extra())
        except Exception:
            with engine.begin() as connection:
                store.release(connection, event.webhook_id)
            raise
        return "recorded"

    return create_receiver_app(
        settings_for, record, log_outcome=log_outcome, title="HighLevel webhook forwarder"
    )


def app_from_env() -> FastAPI:
    """Build the forwarder from ``CONTACTS_WEBHOOK_*`` environment variables (see the module's doc)."""
    env = os.environ
    extra: dict[str, object] = {
        "webhook_public_key": env.get("CONTACTS_WEBHOOK_PUBLIC_KEY") or None,
        "webhook_accept_legacy": env.get("CONTACTS_WEBHOOK_ACCEPT_LEGACY") or False,
        "webhook_max_age": env.get("CONTACTS_WEBHOOK_MAX_AGE"),
    }
    if "CONTACTS_WEBHOOK_LEGACY_PUBLIC_KEY" in env:
        extra["webhook_legacy_public_key"] = env["CONTACTS_WEBHOOK_LEGACY_PUBLIC_KEY"]
    location_ids = to_list(env.get("CONTACTS_WEBHOOK_LOCATION_IDS"), "CONTACTS_WEBHOOK_LOCATION_IDS")
    settings = ReceiverSettings.from_extra(
        {**extra, "location_id": location_ids[0] if location_ids else None}, "the forwarder's environment"
    )
    if settings is None:
        raise ContactsConfigError(
            "the forwarder's environment: set CONTACTS_WEBHOOK_PUBLIC_KEY (or CONTACTS_WEBHOOK_ACCEPT_LEGACY)"
        )
    settings = dataclasses.replace(settings, location_ids=frozenset(location_ids))
    airflow = AirflowAssetsClient(
        env["CONTACTS_WEBHOOK_AIRFLOW_URL"],
        token=env.get("CONTACTS_WEBHOOK_AIRFLOW_TOKEN") or None,
        username=env.get("CONTACTS_WEBHOOK_AIRFLOW_USERNAME") or None,
        password=env.get("CONTACTS_WEBHOOK_AIRFLOW_PASSWORD") or None,
    )
    return create_forwarder_app(
        airflow,
        settings.keys,
        location_ids=sorted(settings.location_ids),
        store_url=env.get("CONTACTS_WEBHOOK_STORE_URL") or DEFAULT_STORE_URL,
        name=env.get("CONTACTS_WEBHOOK_NAME") or "contacts_default",
        max_age=settings.max_age,
    )

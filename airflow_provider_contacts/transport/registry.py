"""
One transport per connection and location per process: every hook, sensor and trigger of a connection shares
its token provider, rate budget and HTTP session, so that a process never competes with itself for a
location's budget or refreshes one token twice. An agency connection has one company chain per process,
shared by the transports of its locations.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_contacts.auth import OAuthTokenProvider, TokenStore
from airflow_provider_contacts.transport.settings import ContactsSettings
from airflow_provider_contacts.transport.sync import Transport, company_chain, default_store

_transports: dict[tuple[Any, ...], tuple[str, Transport]] = {}
#: The registry key's location part for an agency's company transport (no location id looks like it).
_COMPANY = object()
_companies: dict[tuple[Any, ...], tuple[str, OAuthTokenProvider]] = {}
# Re-entrant: building an agency's transport builds (or finds) its company chain under the same guard.
_guard = threading.RLock()
T = TypeVar("T")


def _fingerprint(conn: Any) -> str:
    """A digest of everything a transport is built from (secrets only hashed), to notice an edited connection."""
    content = [conn.conn_type, conn.host, conn.port, conn.login, conn.password, conn.extra_dejson]
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _cached(
    table: dict[tuple[Any, ...], tuple[str, Any]], key: tuple[Any, ...], conn: Any, build: Callable[[], T]
) -> T:
    """What ``table`` holds under ``key`` for this content of ``conn``; built (once) when missing or stale."""
    fingerprint = _fingerprint(conn)
    with _guard:
        known = table.get(key)
        if known is not None and known[0] == fingerprint:
            return known[1]  # type: ignore[no-any-return]
        made = build()
        table[key] = (fingerprint, made)
        return made


def get_transport(
    conn: Any, *, location_id: str | None = None, token_store: TokenStore | None = None
) -> Transport:
    """
    The process's transport for a connection and location, built on first use.

    Keyed by connection id, location (each location of an app has its own rate budget and, on an agency
    connection, its own token) and the token store when the caller brings its own. A connection whose
    content changed since (another host, a rotated secret) gets a new transport.

    :param conn: the Airflow connection, as ``BaseHook.get_connection`` returns it.
    :param location_id: the location whose budget the transport spends; default: the connection's.
    :param token_store: the caller's token store; default: the one the connection names.
    """
    location = location_id or (conn.extra_dejson or {}).get("location_id") or None

    def build() -> Transport:
        agency = ContactsSettings.from_connection(conn).auth_type == "agency"
        company = get_company_chain(conn, token_store) if agency else None
        return Transport.from_connection(conn, token_store=token_store, location_id=location, company=company)

    return _cached(_transports, (conn.conn_id, location, token_store), conn, build)


def get_company_transport(conn: Any, token_store: TokenStore | None = None) -> Transport:
    """
    The process's transport of an agency connection's company (the agency routes, the company's budget).

    :param conn: the agency connection.
    :param token_store: the caller's token store; default: the one the connection names.
    """

    def build() -> Transport:
        return Transport.of_company(conn, get_company_chain(conn, token_store))

    return _cached(_transports, (conn.conn_id, _COMPANY, token_store), conn, build)


def get_company_chain(conn: Any, token_store: TokenStore | None = None) -> OAuthTokenProvider:
    """
    The process's company (agency) OAuth chain of an agency connection: one per connection, shared by the
    transports of all its locations, so that the company's refresh token is rotated by one chain only.

    :param conn: the agency connection.
    :param token_store: the caller's token store; default: the one the connection names.
    """

    def build() -> OAuthTokenProvider:
        settings = ContactsSettings.from_connection(conn)
        return company_chain(conn, settings, token_store or default_store(settings))

    return _cached(_companies, (conn.conn_id, token_store), conn, build)


def transports_of(conn_id: str) -> list[Transport]:
    """
    This process's transports of a connection (its locations' and its company's), for read-only views.

    :param conn_id: the connection.
    """
    with _guard:
        return [transport for _, transport in _transports.values() if transport.settings.conn_id == conn_id]


def clear_transports() -> None:
    """Forget every transport (tests; a process that must start afresh)."""
    with _guard:
        _transports.clear()
        _companies.clear()

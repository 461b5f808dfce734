"""
One transport per connection per process: every hook, sensor and trigger of a connection shares its
token provider, rate budget and HTTP session, so that a process never competes with itself for a
location's budget or refreshes one token twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from airflow_provider_contacts.hooks.auth import TokenStore
from airflow_provider_contacts.transport.sync import Transport

_transports: dict[tuple[Any, ...], tuple[str, Transport]] = {}
_guard = threading.Lock()


def _fingerprint(conn: Any) -> str:
    """A digest of everything a transport is built from (secrets only hashed), to notice an edited connection."""
    content = [conn.conn_type, conn.host, conn.port, conn.login, conn.password, conn.extra_dejson]
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def get_transport(
    conn: Any, *, location_id: str | None = None, token_store: TokenStore | None = None
) -> Transport:
    """
    The process's transport for a connection, built on first use.

    Keyed by connection id and location (today always the connection's; an agency connection will key one
    transport per location it serves) and by the token store when the caller brings its own. A connection
    whose content changed since (another host, a rotated secret) gets a new transport.

    :param conn: the Airflow connection, as ``BaseHook.get_connection`` returns it.
    :param location_id: the location whose budget the transport spends; default: the connection's.
    :param token_store: the caller's token store; default: the one the connection names.
    """
    key = (conn.conn_id, location_id, token_store)
    fingerprint = _fingerprint(conn)
    with _guard:
        known = _transports.get(key)
        if known is not None and known[0] == fingerprint:
            return known[1]
        transport = Transport.from_connection(conn, token_store=token_store)
        _transports[key] = (fingerprint, transport)
        return transport


def clear_transports() -> None:
    """Forget every transport (tests; a process that must start afresh)."""
    with _guard:
        _transports.clear()

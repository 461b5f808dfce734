"""The connection's settings, parsed and checked once: the first piece of the transport."""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_contacts.api_versions import for_connection
from airflow_provider_contacts.auth import mask_url
from airflow_provider_contacts.coercion import to_float, to_int
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.urls import redacted_url, url_scheme

DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"
DEFAULT_API_VERSION = "2021-07-28"
#: The schemes the Redis client serves (``redis.connection.parse_url``).
RATE_LIMIT_BACKEND_SCHEMES = ("redis", "rediss", "unix")
#: ``oauth``: one location's OAuth chain; ``private_token``: a static token; ``agency``: a company's OAuth
#: chain that mints the token of any location where the app is installed.
AUTH_TYPES = ("oauth", "private_token", "agency")


def _loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _number(
    conn_id: str, extra: Mapping[str, Any], key: str, default: float, minimum: float, whole: bool = False
) -> float:
    """An extra's number (the default when empty); anything else is an error naming the field."""
    value = extra.get(key)
    if value in (None, ""):
        return default
    name, owner = f"extra.{key}", f"connection {conn_id!r}"
    if whole:
        return to_int(value, name, owner=owner, minimum=int(minimum))
    return to_float(value, name, owner=owner, minimum=minimum)


@dataclass(frozen=True)
class ContactsSettings:
    """The connection's settings, parsed and checked. Holds no secret: the credentials stay on the hook."""

    conn_id: str
    base_url: str
    auth_type: str
    location_id: str | None
    scopes: frozenset[str]
    api_version: str
    timeout: float
    max_retries: int
    requests_per_window: int
    rate_limit_window: float
    retry_backoff: float
    retry_backoff_max: float
    token_variable: str
    token_file: str | None
    client_id: str | None = None
    company_id: str | None = None
    rate_limit_backend: str | None = field(default=None, repr=False)  # may carry a Redis password
    rate_limit_key_prefix: str = "airflow-provider-contacts"

    @property
    def budget_key(self) -> str:
        """
        The name of the rate budget this connection spends: the API counts per app and location.

        ``<host>:<app>:<location>``, hashed where a part could be long; the location (``-`` when the
        connection has none) is the last part, so that a per-location key of an agency connection is the
        same key with another location id.
        """
        app = self.client_id or "private-token"
        host = urlsplit(self.base_url).netloc
        digest = hashlib.sha256(f"{host}|{app}".encode()).hexdigest()[:16]
        return f"{digest}:{self.location_id or '-'}"

    def for_location(self, location_id: str | None) -> ContactsSettings:
        """
        These settings for another location of the same app (its own budget key); None: unchanged.

        :param location_id: the location (sub-account) id.
        """
        if location_id is None or location_id == self.location_id:
            return self
        if not isinstance(location_id, str) or not location_id.strip():
            raise ContactsConfigError(
                f"connection {self.conn_id!r}: location_id must be a non-empty string, got {location_id!r}"
            )
        return dataclasses.replace(self, location_id=location_id.strip())

    @classmethod
    def from_connection(cls, conn: Any) -> ContactsSettings:
        """
        Parse an Airflow connection; every problem names the connection and the field.

        :param conn: an Airflow ``Connection``.
        """
        conn_id = conn.conn_id or "contacts"
        extra: Mapping[str, Any] = conn.extra_dejson or {}
        raw_url = (conn.host or DEFAULT_BASE_URL).strip()
        if "://" not in raw_url:
            raw_url = f"https://{raw_url}"
        parts = urlsplit(raw_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ContactsConfigError(
                f"connection {conn_id!r}: host {conn.host!r} is not an http(s) URL with a host name, "
                f"e.g. {DEFAULT_BASE_URL}"
            )
        base_url = raw_url.rstrip("/")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise ContactsConfigError(
                f"connection {conn_id!r}: host {conn.host!r} uses http:// to a non-loopback host; "
                "tokens would travel in clear text. Use https:// (http:// is allowed for 127.0.0.1/localhost)"
            )
        if conn.port and not parts.port:
            base_url = f"{parts.scheme}://{parts.hostname}:{conn.port}{parts.path}"
        auth_type = str(extra.get("auth_type") or "oauth").strip().lower()
        if auth_type not in AUTH_TYPES:
            raise ContactsConfigError(
                f"connection {conn_id!r}: extra.auth_type must be one of {', '.join(AUTH_TYPES)}, "
                f"got {auth_type!r}"
            )
        if not conn.password:
            what = (
                "the private integration token" if auth_type == "private_token" else "the OAuth client secret"
            )
            raise ContactsConfigError(f"connection {conn_id!r}: password is empty; it must hold {what}")
        if auth_type != "private_token" and not conn.login:
            raise ContactsConfigError(f"connection {conn_id!r}: login must hold the OAuth client id")
        company_id = extra.get("company_id")
        if auth_type == "agency" and (not isinstance(company_id, str) or not company_id.strip()):
            raise ContactsConfigError(
                f"connection {conn_id!r}: extra.company_id must hold the agency's company id with "
                f"auth_type 'agency', got {company_id!r}"
            )
        raw_scopes = extra.get("scopes") or "contacts.readonly"
        if isinstance(raw_scopes, str):
            scopes = frozenset(raw_scopes.replace(",", " ").split())
        elif isinstance(raw_scopes, (list, tuple, set, frozenset)):
            scopes = frozenset(str(s) for s in raw_scopes)
        else:
            raise ContactsConfigError(
                f"connection {conn_id!r}: extra.scopes must be a space separated string"
            )
        backend = _rate_limit_backend(conn_id, extra.get("rate_limit_backend"))
        location_id = extra.get("location_id")
        if location_id is not None and not isinstance(location_id, str):
            raise ContactsConfigError(f"connection {conn_id!r}: extra.location_id must be a string")
        api_version = for_connection(conn_id, str(extra.get("api_version") or DEFAULT_API_VERSION)).name
        return cls(
            conn_id=conn_id,
            base_url=base_url,
            auth_type=auth_type,
            location_id=(location_id or "").strip() or None,
            scopes=scopes,
            api_version=api_version,
            timeout=_number(conn_id, extra, "timeout", 30.0, 0.001),
            max_retries=int(_number(conn_id, extra, "max_retries", 5, 0, whole=True)),
            requests_per_window=int(_number(conn_id, extra, "requests_per_10s", 100, 1, whole=True)),
            rate_limit_window=_number(conn_id, extra, "rate_limit_window", 10.0, 0.001),
            retry_backoff=_number(conn_id, extra, "retry_backoff", 0.5, 0),
            retry_backoff_max=_number(conn_id, extra, "retry_backoff_max", 30.0, 0),
            token_variable=str(extra.get("token_variable") or f"contacts_token__{conn_id}"),
            token_file=extra.get("token_file") or None,
            client_id=str(conn.login) if auth_type != "private_token" and conn.login else None,
            company_id=str(company_id).strip() if auth_type == "agency" else None,
            rate_limit_backend=backend,
            rate_limit_key_prefix=str(extra.get("rate_limit_key_prefix") or "airflow-provider-contacts"),
        )


def _rate_limit_backend(conn_id: str, value: Any) -> str | None:
    """
    Check ``extra.rate_limit_backend``: empty, or a Redis URL. The URL may hold the Redis password: it is
    registered with Airflow's secrets masker, and no message shows more of it than its redacted form.
    """
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ContactsConfigError(
            f"connection {conn_id!r}: extra.rate_limit_backend must be a Redis URL, got a {type(value).__name__}"
        )
    url = value.strip()
    mask_url(url)
    scheme = url_scheme(url)
    if scheme not in RATE_LIMIT_BACKEND_SCHEMES:
        what = f"a URL with scheme {scheme!r}" if scheme else "text that is not a URL (scheme://...)"
        raise ContactsConfigError(
            f"connection {conn_id!r}: extra.rate_limit_backend must be a Redis URL such as "
            f"redis://127.0.0.1:6379/0 (schemes: {', '.join(RATE_LIMIT_BACKEND_SCHEMES)}), got {what}: "
            f"{redacted_url(url)}"
        )
    return url


#: Where ``requests`` finds a CA bundle to trust instead of its own, in its order.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def environment_ca_bundle() -> str | None:
    """
    The CA bundle the environment names for TLS (a corporate CA of a TLS-inspecting proxy), as ``requests``
    reads it: ``REQUESTS_CA_BUNDLE``, else ``CURL_CA_BUNDLE``; None when neither is set. Both faces of the
    transport trust the same one.

    :raises ContactsConfigError: the variable names no file or directory (``requests`` and ``ssl`` would say
        only that a file is missing, or not even which).
    """
    for variable in CA_BUNDLE_VARIABLES:
        path = os.environ.get(variable)
        if path:
            if not os.path.exists(path):
                raise ContactsConfigError(
                    f"{variable} names {path!r}, which does not exist: point it at the CA bundle (a file, or a "
                    "directory of certificates) that TLS connections should trust, or unset it"
                )
            return path
    return None


def context_trusting(bundle: str, context: ssl.SSLContext | None = None) -> ssl.SSLContext:
    """
    A TLS context that trusts a CA bundle: ``context`` with the bundle loaded into it, else Python's default
    client context for it. Both faces of the transport build theirs here.

    :param bundle: a PEM file, or a directory of certificates.
    :param context: the context to load it into; default: a new ``ssl.create_default_context``.
    :raises ContactsConfigError: the bundle cannot be read, or holds no certificate.
    """
    cafile, capath = (None, bundle) if os.path.isdir(bundle) else (bundle, None)
    try:
        if context is None:
            return ssl.create_default_context(cafile=cafile, capath=capath)
        context.load_verify_locations(cafile=cafile, capath=capath)
    except (OSError, ssl.SSLError) as err:  # unreadable, or no certificate in it
        raise ContactsConfigError(f"the CA bundle {bundle!r} cannot be loaded: {err}") from err
    return context

"""Starting the sandbox: in a background thread or a subprocess, and the handle tests and demos use."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
import uvicorn

from .app import create_app
from .auth import AGENCY_SCOPES, ALL_SCOPES, COMPANY_ID, installed_location_ids
from .client import SandboxClient
from .model import OTHER_LOCATION_ID, Sandbox
from .options import ADMIN_TOKEN_ENV, SandboxOptions
from .seed import seed
from .webhooks import attach as attach_webhooks

CONN_ENV_NAME = "AIRFLOW_CONN_CONTACTS_DEFAULT"


class _QuietDrops(logging.Filter):
    """Hide uvicorn's error line for the half-sent answers of ``drop`` faults (they are on purpose)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


def build_sandbox(options: SandboxOptions) -> Sandbox:
    """
    Create the state and seed it (unless the database already holds contacts).

    :param options: the sandbox's options.
    """
    if not options.admin_token:
        options.admin_token = secrets.token_urlsafe(24)
    sb = Sandbox(options)
    attach_webhooks(sb)
    if options.seed and sb.store.contact_count() == 0:
        seed(sb, options.seed, options.random_seed)
    return sb


def connection_for(
    options: SandboxOptions,
    base_url: str,
    refresh_token: str,
    scopes: str = ALL_SCOPES,
    webhook_public_key: str | None = None,
) -> dict[str, Any]:
    """
    Return the Airflow connection (as a JSON-able dict) that reaches a sandbox with OAuth.

    :param options: the sandbox's options.
    :param base_url: its URL.
    :param refresh_token: a fresh refresh token.
    :param scopes: the scopes of that token.
    :param webhook_public_key: the key that verifies the sandbox's webhooks, added to the extra.
    """
    connection: dict[str, Any] = {
        "conn_type": "contacts",
        "host": base_url,
        "login": options.client_id,
        "password": options.client_secret,
        "extra": {
            "location_id": options.location_id,
            "auth_type": "oauth",
            "refresh_token": refresh_token,
            "scopes": scopes,
            "requests_per_10s": options.rate_limit,
            "rate_limit_window": options.rate_interval,
        },
    }
    if webhook_public_key:
        connection["extra"]["webhook_public_key"] = webhook_public_key
    return connection


def bind(host: str, port: int) -> socket.socket:
    """
    Open the listening socket (port 0 picks a free port, with no race between choosing and binding).

    :param host: interface.
    :param port: port or 0.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def make_server(sb: Sandbox) -> uvicorn.Server:
    """
    Build the uvicorn server (httptools + uvloop, no access log; HTTPS when the options name a certificate).

    :param sb: the state to serve.
    """
    config = uvicorn.Config(
        create_app(sb),
        log_level=sb.options.log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=30,
        ssl_certfile=sb.options.tls_cert,
        ssl_keyfile=sb.options.tls_key,
    )
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    return uvicorn.Server(config)


class SandboxHandle:
    """
    A running sandbox, as tests and demos see it.

    :param options: its options.
    :param base_url: its URL (``http://127.0.0.1:PORT``).
    :param refresh_token: the refresh token of :attr:`connection`.
    :param admin_token: the token of the ``/_sandbox/*`` control routes; every helper of the handle sends it.
    :param webhook_public_key: the key that verifies its webhooks (in every connection's extra).
    """

    def __init__(
        self,
        options: SandboxOptions,
        base_url: str,
        refresh_token: str,
        admin_token: str,
        webhook_public_key: str | None = None,
    ) -> None:
        self.options = options
        self.webhook_public_key = webhook_public_key
        self.base_url = base_url
        self.location_id = options.location_id
        self.other_location_id = OTHER_LOCATION_ID
        self.private_token = options.private_token
        self.client_id = options.client_id
        self.client_secret = options.client_secret
        self.connection = connection_for(
            options, base_url, refresh_token, webhook_public_key=webhook_public_key
        )
        self.admin_token = admin_token
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {admin_token}"
        self._info: dict[str, Any] | None = None

    def _admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._session.request(method, self.base_url + path, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def conn_env(self, connection: dict[str, Any] | None = None) -> str:
        """
        Return the JSON for ``AIRFLOW_CONN_<ID>``.

        :param connection: another connection dict (e.g. from :meth:`read_only_connection`); default mine.
        """
        return json.dumps(connection or self.connection)

    def stats(self) -> dict[str, Any]:
        """Return ``GET /_sandbox/stats``."""
        return self._admin("GET", "/_sandbox/stats")

    def reset_stats(self) -> None:
        """Zero the counters and the rate-limit windows."""
        self._admin("POST", "/_sandbox/stats/reset")

    def set_faults(
        self,
        rate: float | None = None,
        kinds: list[str] | None = None,
        seed: int | None = None,
        latency_ms: float | None = None,
    ) -> dict[str, Any]:
        """
        Change fault injection at run time.

        :param rate: fraction of API requests that get a fault.
        :param kinds: kinds to choose among (``429``, ``500``, ``502``, ``503``, ``drop``, ``slow``).
        :param seed: restart the fault sequence from this seed.
        :param latency_ms: new latency for every API request.
        """
        body = {
            k: v
            for k, v in {"rate": rate, "kinds": kinds, "seed": seed, "latency_ms": latency_ms}.items()
            if v is not None
        }
        return self._admin("POST", "/_sandbox/faults", json=body)

    def webhooks(self) -> dict[str, Any]:
        """Return ``GET /_sandbox/webhooks``: events emitted, deliveries pending, answers by status, lost."""
        return self._admin("GET", "/_sandbox/webhooks")

    def set_webhooks(self, fault: str | None = None, urls: list[str] | None = None) -> dict[str, Any]:
        """
        Change the webhook subscriptions or misbehaviour at run time.

        :param fault: ``""`` (none), ``tampered``, ``unsigned``, ``stale`` or ``duplicate``.
        :param urls: the subscribed URLs (replacing the current ones).
        """
        body = {k: v for k, v in {"fault": fault, "urls": urls}.items() if v is not None}
        return self._admin("POST", "/_sandbox/webhooks", json=body)

    def all_contacts(
        self, location_id: str | None = None, email_domain: str | None = None
    ) -> list[dict[str, Any]]:
        """
        Return every contact of a location (server state; no auth, no rate limit).

        :param location_id: the location; default the sandbox's.
        :param email_domain: only the contacts whose e-mail address is at this domain (filtered by the server).
        """
        params = {"locationId": location_id} if location_id else {}
        if email_domain:
            params["emailDomain"] = email_domain
        return self._admin("GET", "/_sandbox/contacts", params=params or None)["contacts"]

    def info(self) -> dict[str, Any]:
        """Return the fixed ids of the sandbox: users, campaigns, workflows, calendars, businesses, custom fields."""
        if self._info is None:
            self._info = self._admin("GET", "/_sandbox/info")
        return self._info

    def mint_refresh_token(self, scopes: str = ALL_SCOPES) -> str:
        """
        Mint a new refresh token (as if a user had authorised the app again).

        :param scopes: its scopes, e.g. ``contacts.readonly`` for a read-only connection.
        """
        return self._admin("POST", "/_sandbox/tokens", json={"scopes": scopes})["refresh_token"]

    def mint_code(self, scopes: str = ALL_SCOPES) -> str:
        """
        Mint an authorization code for ``grant_type=authorization_code``.

        :param scopes: its scopes.
        """
        return self._admin("POST", "/_sandbox/tokens", json={"scopes": scopes, "kind": "code"})["code"]

    def oauth_connection(self, scopes: str = ALL_SCOPES) -> dict[str, Any]:
        """
        Return a new OAuth connection dict with its own fresh refresh token.

        :param scopes: its scopes (``contacts.readonly`` for a read-only one).
        """
        return connection_for(
            self.options, self.base_url, self.mint_refresh_token(scopes), scopes, self.webhook_public_key
        )

    @property
    def installed_location_ids(self) -> tuple[str, ...]:
        """The locations of the company that have the app installed (``locations`` of them)."""
        return installed_location_ids(self.options)

    def agency_connection(self, scopes: str = AGENCY_SCOPES) -> dict[str, Any]:
        """
        Return a new agency connection dict: an agency-level install's (Company) refresh token, its own.

        Its ``location_id`` is the sandbox's first location, the default of every call.

        :param scopes: the install's scopes (``oauth.write`` mints location tokens).
        """
        body = {"scopes": scopes, "userType": "Company"}
        refresh_token = self._admin("POST", "/_sandbox/tokens", json=body)["refresh_token"]
        conn = connection_for(self.options, self.base_url, refresh_token, scopes)
        conn["extra"].update(auth_type="agency", company_id=COMPANY_ID)
        return conn

    def add_custom_field(self, name: str, field_key: str, data_type: str = "TEXT") -> dict[str, Any]:
        """
        Add a contact custom field with a ``fieldKey`` of the caller's choosing (the API derives it from the
        name; this makes the keys of older or imported fields); return the definition.

        :param name: the field's name.
        :param field_key: its key, e.g. ``tier`` or ``contact.Tier``.
        :param data_type: its ``dataType``.
        """
        body = {"name": name, "fieldKey": field_key, "dataType": data_type}
        return dict(self._admin("POST", "/_sandbox/customFields", json=body)["customField"])

    def suspend_locations(self, *location_ids: str) -> None:
        """
        Refuse location tokens for these locations from now on (400 ``Location is not active``); none: lift.

        :param location_ids: the locations.
        """
        self._admin("POST", "/_sandbox/locations/suspended", json={"locationIds": list(location_ids)})

    def private_connection(self) -> dict[str, Any]:
        """Return a connection dict that uses the private integration token."""
        conn = connection_for(self.options, self.base_url, "", webhook_public_key=self.webhook_public_key)
        conn["login"] = ""
        conn["password"] = self.private_token
        conn["extra"].pop("refresh_token")
        conn["extra"]["auth_type"] = "private_token"
        return conn

    def access_token(self, scopes: str = ALL_SCOPES) -> str:
        """
        Exchange a freshly minted refresh token for an access token (for plain-HTTP tests).

        :param scopes: its scopes.
        """
        form = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": self.mint_refresh_token(scopes),
            "user_type": "Location",
        }
        response = requests.post(self.base_url + "/oauth/token", data=form, timeout=30)
        response.raise_for_status()
        return response.json()["access_token"]

    def client(self, token: str | None = None, scopes: str = ALL_SCOPES) -> SandboxClient:
        """
        Return a plain HTTP client with a bearer token.

        :param token: the token; default a fresh OAuth access token with ``scopes``.
        :param scopes: scopes of that fresh token.
        """
        return SandboxClient(self, token or self.access_token(scopes))

    def close(self) -> None:
        """Close the handle's HTTP session."""
        self._session.close()


def wait_healthy(base_url: str, timeout: float = 60.0, process: subprocess.Popen[str] | None = None) -> None:
    """
    Poll ``GET /_sandbox/health`` until it answers 200.

    :param base_url: the sandbox URL.
    :param timeout: seconds before giving up.
    :param process: the server process, to fail fast if it exits.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            if requests.get(base_url + "/_sandbox/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the sandbox process exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the sandbox at {base_url} did not become healthy within {timeout} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _url(host: str, port: int, tls: bool = False) -> str:
    return f"{'https' if tls else 'http'}://{'[' + host + ']' if ':' in host else host}:{port}"


@contextmanager
def running_sandbox(*, subprocess_mode: bool = False, **options: Any) -> Iterator[SandboxHandle]:
    """
    Run a sandbox on a free port while the block runs.

    ``with running_sandbox(seed=50, rate_limit=20, rate_interval=0.5) as sb: ...``

    :param subprocess_mode: run the server in its own Python process (its own GIL: for benchmarks) instead
        of a thread of this one.
    :param options: any :class:`SandboxOptions` field; ``port`` defaults to 0 (a free port).
    """
    options.setdefault("port", 0)
    opts = SandboxOptions.from_kwargs(**options)
    if subprocess_mode:
        with _subprocess_sandbox(opts) as child:
            yield child
        return
    sb = build_sandbox(opts)
    sock = bind(opts.host, opts.port)
    base_url = _url(opts.host, sock.getsockname()[1], tls=bool(opts.tls_cert))
    server = make_server(sb)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="contacts-sandbox", daemon=True
    )
    thread.start()
    handle: SandboxHandle | None = None
    try:
        wait_healthy(base_url)
        assert opts.admin_token is not None
        public_key = sb.webhooks.public_key if sb.webhooks else None
        handle = SandboxHandle(opts, base_url, sb.auth.mint_refresh_token(), opts.admin_token, public_key)
        yield handle
    finally:
        if handle is not None:
            handle.close()
        if sb.webhooks is not None:
            sb.webhooks.close()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        sb.store.db.close()


@contextmanager
def _subprocess_sandbox(opts: SandboxOptions) -> Iterator[SandboxHandle]:
    argv = [sys.executable, "-m", "contacts_sandbox", *opts.to_argv()]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if opts.admin_token:
        env[ADMIN_TOKEN_ENV] = opts.admin_token
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    handle: SandboxHandle | None = None
    try:
        assert process.stdout is not None
        connection = admin_token = None
        for line in process.stdout:
            if line.startswith(ADMIN_TOKEN_ENV + "="):
                admin_token = line.split("=", 1)[1].strip()
            elif line.startswith(CONN_ENV_NAME + "="):
                connection = json.loads(line.split("=", 1)[1])
                break
        if connection is None or admin_token is None:
            raise RuntimeError(
                f"the sandbox process exited ({process.wait()}) before printing its connection and admin token"
            )
        wait_healthy(connection["host"], process=process)
        handle = SandboxHandle(
            opts,
            connection["host"],
            connection["extra"]["refresh_token"],
            admin_token,
            connection["extra"].get("webhook_public_key"),
        )
        yield handle
    finally:
        if handle is not None:
            handle.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

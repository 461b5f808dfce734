"""
Fixtures of the security tests: the warehouse tests' sandbox process (``contacts``) and a target database on
the machine's PostgreSQL or MariaDB server, defined as the Airflow connection ``warehouse`` (uniquely named,
dropped afterwards; an unreachable server skips with the reason), and the hooks package's ``make_hook``.

The webhook boundary attacked through a real ``airflow api-server`` with the plugin.

One API server for the package, with connections for each trust question (an Ed25519 connection with a
legacy key it does not accept, one that accepts legacy deliveries, one that did not opt in, an agency
connection, broken settings), and a secrets backend that writes down every connection id it is asked for.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine

from airflow_provider_contacts.webhooks.store import recent_deliveries
from contacts_sandbox.server import SandboxHandle
from tests.databases import Unreachable, mariadb_database, postgres_database
from tests.integration.warehouse.conftest import contacts as contacts  # the fixture
from tests.integration.webhooks.conftest import LOCATION, WebhookWorld, public_key_of, running_webhook_world

# The hook fixtures (a connection per test, token answers) are the hooks package's.
from tests.unit.conftest import make_hook  # noqa: F401


@pytest.fixture(params=["postgres", "mariadb"])
def server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database on one server (``postgres`` or ``mariadb``), as the connection ``warehouse``."""
    target = {"postgres": postgres_database, "mariadb": mariadb_database}[request.param]
    try:
        with target("contacts_sec") as connection:
            monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(connection))
            yield request.param
    except Unreachable as error:
        pytest.skip(str(error))


#: The agency's second installed location in the sandbox (``running_sandbox(locations=3)``).
SECOND = "sbxLoc00000000000002"
#: A location of another company: DAGs here use its assets too, so a wrongly accepted event would record.
OTHER = "sbxLocOtherCompany01"
#: What every delivery that is not verified for its URL gets.
UNAUTHENTICATED = {"detail": "not a verified delivery"}

LEGACY_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
LEGACY_PEM = (
    LEGACY_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


@dataclass
class SecurityWorld:
    """The running world and the file the secrets backend writes its lookups to."""

    world: WebhookWorld
    lookups: Path

    def url(self, conn_id: str) -> str:
        return self.world.receiver(conn_id)

    def engine(self) -> Any:
        return create_engine(f"sqlite:///{self.world.db_path}", connect_args={"timeout": 30})


def _connections(sandbox: SandboxHandle, key: Ed25519PrivateKey) -> dict[str, dict[str, Any]]:
    public = public_key_of(key)

    def own(**extra: Any) -> dict[str, Any]:
        return {
            "conn_type": "contacts",
            "extra": {"webhook_public_key": public, "location_id": LOCATION, **extra},
        }

    plain = json.loads(json.dumps(sandbox.connection))
    plain["extra"].pop("webhook_public_key", None)
    agency = sandbox.agency_connection()
    agency["extra"]["webhook_public_key"] = public
    return {
        "sec_ed": own(webhook_legacy_public_key=LEGACY_PEM),
        "sec_legacy_ok": own(webhook_legacy_public_key=LEGACY_PEM, webhook_accept_legacy="true"),
        "sec_plain": plain,
        "sec_nan": own(webhook_max_age="nan"),
        "sec_empty_legacy": own(webhook_legacy_public_key=""),
        "sec_agency": agency,
    }


@pytest.fixture(scope="package")
def security_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecurityWorld]:
    home = tmp_path_factory.mktemp("webhook-security-home")
    lookups = home / "secrets-lookups.txt"
    env = {
        "AIRFLOW__SECRETS__BACKEND": "tests.security.counting_backend.CountingSecretsBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"path": str(lookups)}),
    }
    with running_webhook_world(
        home, _connections, asset_locations=(LOCATION, SECOND, OTHER), env_extra=env, locations=3
    ) as world:
        yield SecurityWorld(world, lookups)


def stamp(age: timedelta = timedelta(0)) -> str:
    """An event ``timestamp`` ``age`` ago, as HighLevel writes it."""
    return (datetime.now(timezone.utc) - age).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_payload(**fields: Any) -> dict[str, Any]:
    """A ContactUpdate of the connection's location with a new contact id and ``webhookId``."""
    return {
        "type": "ContactUpdate",
        "locationId": LOCATION,
        "id": f"sec{uuid.uuid4().hex[:17]}",
        "timestamp": stamp(),
        "webhookId": str(uuid.uuid4()),
        **fields,
    }


def signed(body: bytes, key: Ed25519PrivateKey | None = None, legacy: bool = False) -> dict[str, str]:
    """Headers signing ``body`` with ``key`` (x-ghl-signature) and/or the test's legacy RSA key."""
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["x-ghl-signature"] = base64.b64encode(key.sign(body)).decode()
    if legacy:
        signature = LEGACY_KEY.sign(body, padding.PKCS1v15(), hashes.SHA256())
        headers["x-wh-signature"] = base64.b64encode(signature).decode()
    return headers


def post(
    sec: SecurityWorld,
    conn_id: str,
    payload: dict[str, Any] | bytes,
    *,
    key: Ed25519PrivateKey | None = None,
    legacy: bool = False,
) -> requests.Response:
    """POST a delivery; ``key``/``legacy`` choose the signatures (none: unsigned)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return requests.post(sec.url(conn_id), data=body, headers=signed(body, key, legacy), timeout=60)


def latest_delivery(sec: SecurityWorld, conn_id: str) -> tuple[str, str | None, int]:
    """The newest line of a connection's delivery log: outcome, reason, HTTP status."""
    engine = sec.engine()
    try:
        row = recent_deliveries(engine, conn_id, limit=1)[0]
    finally:
        engine.dispose()
    return row["outcome"], row["reason"], row["http_status"]


def recorded_ids(sec: SecurityWorld, location: str = LOCATION) -> list[str]:
    """The contact ids of every contacts asset event recorded for ``location``."""
    return [e.get("contact_id") for e in sec.world.events("contacts", location)]

"""
The sandbox over HTTPS (``--tls-cert``/``--tls-key``), in its own process, as the API is served: the hook's
OAuth and agency connections work through it trusting its CA by ``REQUESTS_CA_BUNDLE``, every new connection
of a batch shares the transport's TLS context without loading the bundle again, and a client that does not
trust the CA is refused with an error that says so.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import ContactsError
from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox
from tests.tls import NO_BUNDLE, Authority, bundles_loaded

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("tls"), "Contacts Sandbox Test CA", hosts=("127.0.0.1",))


@pytest.fixture(scope="module")
def tls_sandbox(authority: Authority) -> Iterator[SandboxHandle]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CURL_CA_BUNDLE", raising=False)
        patch.setenv("REQUESTS_CA_BUNDLE", str(authority.bundle))  # the handle's own requests trust it too
        with running_sandbox(
            subprocess_mode=True,
            seed=3,
            locations=2,
            rate_limit=10_000,
            rate_interval=1.0,
            tls_cert=str(authority.chain),
            tls_key=str(authority.key),
        ) as sb:
            yield sb


@pytest.fixture
def trusting(authority: Authority, monkeypatch: pytest.MonkeyPatch) -> Authority:
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.bundle))
    return authority


def _hook(
    sb: SandboxHandle, conn: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any
):
    conn["extra"]["token_file"] = str(tmp_path / f"tokens-{uuid.uuid4().hex}.json")
    conn_id = f"contacts_tls_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return ContactsHook(conn_id, **kw)


def test_the_sandbox_serves_https_and_the_hook_works_through_it(
    tls_sandbox: SandboxHandle, trusting: Authority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    assert tls_sandbox.base_url.startswith("https://127.0.0.1:")
    # The connections first: the sandbox handle's own requests (it mints their refresh tokens) are not the hook's.
    oauth_conn = dict(tls_sandbox.connection, extra=dict(tls_sandbox.connection["extra"]))
    agency_conns = {
        location: tls_sandbox.agency_connection() for location in tls_sandbox.installed_location_ids
    }
    with bundles_loaded() as loaded:
        oauth = _hook(tls_sandbox, oauth_conn, tmp_path, monkeypatch)
        records = [{"email": f"tls-{i}-{uuid.uuid4().hex[:6]}@example.com"} for i in range(40)]
        results = oauth.upsert_contacts(records, max_workers=16)
        assert [r["ok"] for r in results] == [True] * 40
        for location, conn in agency_conns.items():
            agency = _hook(tls_sandbox, conn, tmp_path, monkeypatch, location_id=location)
            found = agency.upsert_contact({"email": f"tls-agency-{uuid.uuid4().hex[:6]}@example.com"})
            assert found["contact"]["locationId"] == location
    # At least the OAuth transport's one, and each agency location's company and location transports' (how
    # many more the batch opens depends on how its 16 workers overlap).
    assert len(loaded) >= 5, "new HTTPS connections, the batch's and the tokens'"
    assert set(loaded) == {NO_BUNDLE}, (
        "no connection loaded the CA bundle again: each transport's context holds it"
    )


def test_a_client_that_does_not_trust_the_sandbox_is_refused_saying_why(
    tls_sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    conn = dict(tls_sandbox.connection, extra=dict(tls_sandbox.connection["extra"]))
    conn["password"] = tls_sandbox.private_token
    conn["extra"]["auth_type"] = "private_token"
    hook = _hook(tls_sandbox, conn, tmp_path, monkeypatch)
    with pytest.raises(ContactsError, match="SSLError"):
        hook.get_contact("any")


def test_a_certificate_without_its_key_is_refused_at_start():
    with (
        pytest.raises(ValueError, match="tls_cert and tls_key go together"),
        running_sandbox(tls_cert="/nonexistent/chain.pem"),
    ):
        pass

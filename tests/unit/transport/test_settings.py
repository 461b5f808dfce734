"""Agency connections: their settings, per-location budget keys and per-location token stores."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_contacts.auth import FileTokenStore, MemoryTokenStore, VariableTokenStore
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.transport.settings import ContactsSettings


def _conn(**extra: Any) -> SimpleNamespace:
    return SimpleNamespace(
        conn_id="agency",
        host="https://services.leadconnectorhq.com",
        port=None,
        login="app-client",
        password="secret",
        extra_dejson={"auth_type": "agency", "company_id": "co1", "location_id": "locA", **extra},
    )


def test_agency_needs_a_company_id() -> None:
    with pytest.raises(ContactsConfigError, match=r"extra\.company_id"):
        ContactsSettings.from_connection(_conn(company_id=""))
    settings = ContactsSettings.from_connection(_conn())
    assert (settings.auth_type, settings.company_id, settings.client_id) == ("agency", "co1", "app-client")


def test_each_location_has_its_own_budget_key() -> None:
    settings = ContactsSettings.from_connection(_conn())
    other = settings.for_location("locB")
    assert other.location_id == "locB" and settings.for_location(None) is settings
    assert settings.budget_key.rsplit(":", 1) == [other.budget_key.rsplit(":", 1)[0], "locA"]
    assert other.budget_key.endswith(":locB")
    with pytest.raises(ContactsConfigError, match="location_id"):
        settings.for_location("  ")


def test_location_stores_are_apart_and_name_the_location(tmp_path: Path) -> None:
    memory = MemoryTokenStore()
    assert memory.for_location("locA") is memory.for_location("locA")
    assert memory.for_location("locA") is not memory.for_location("locB")
    memory.for_location("locA").save({"access_token": "a"})
    assert memory.load() is None and memory.for_location("locB").load() is None
    file_store = FileTokenStore(tmp_path / "tokens.json")
    assert file_store.for_location("locA").path == tmp_path / "tokens.location-locA.json"
    variable = VariableTokenStore("contacts_token__agency").for_location("locA")
    assert variable.key == "contacts_token__agency__location__locA"
    for bad in ("../x", "a b", "", "x" * 65):
        with pytest.raises(ContactsConfigError, match="location_id"):
            file_store.for_location(bad)


def test_the_company_token_request_carries_no_netrc_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, requests_mock: Any
) -> None:
    # The company chain had a plain requests.Session: a ~/.netrc entry's Basic credentials went along.
    from airflow_provider_contacts.transport.sync import company_chain

    netrc = tmp_path / "netrc"
    netrc.write_text("default login someone password not-for-this-api\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    conn = _conn(refresh_token="company-refresh-0001")
    requests_mock.post(
        "https://services.leadconnectorhq.com/oauth/token",
        json={
            "access_token": "company-access-0001",
            "refresh_token": "company-refresh-0002",
            "token_type": "Bearer",
            "expires_in": 86399,
            "userType": "Company",
            "companyId": "co1",
        },
    )
    chain = company_chain(
        conn, ContactsSettings.from_connection(conn), MemoryTokenStore(), user_type="Company"
    )
    assert chain.access_token() == "company-access-0001"
    assert "Authorization" not in requests_mock.last_request.headers

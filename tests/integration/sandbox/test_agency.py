"""The sandbox's agency: one company, several installed locations, company tokens and location tokens (v2)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from airflow_provider_contacts.sandbox import SandboxHandle
from contacts_sandbox.client import SandboxClient

COMPANY = "sbxCompany0000000001"


@pytest.fixture
def agency(sandbox_factory: Callable[..., SandboxHandle]) -> SandboxHandle:
    """A sandbox whose company has the app installed on 3 locations, 5 contacts each."""
    return sandbox_factory(seed=5, random_seed=11, locations=3, rate_limit=1000, rate_interval=1.0)


def _company_token(sb: SandboxHandle) -> str:
    conn = sb.agency_connection()
    form = {
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": conn["extra"]["refresh_token"],
        "user_type": "Company",
    }
    answer = requests.post(f"{sb.base_url}/oauth/token", data=form, timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["userType"] == "Company" and "locationId" not in body
    assert set(body["approvedLocations"]) >= set(sb.installed_location_ids)
    return str(body["access_token"])


def _location_token(sb: SandboxHandle, company_token: str, location_id: str) -> requests.Response:
    return requests.post(
        f"{sb.base_url}/oauth/locationToken",
        data={"companyId": COMPANY, "locationId": location_id},
        headers={"Authorization": f"Bearer {company_token}", "Version": "2021-07-28"},
        timeout=10,
    )


def test_installed_locations_page_with_skip_and_limit(agency: SandboxHandle) -> None:
    company = SandboxClient(agency, token=_company_token(agency))
    query = {"companyId": COMPANY, "appId": agency.client_id.split("-")[0], "isInstalled": "true"}
    first = company.get("/oauth/installedLocations", params={**query, "limit": 2}).json()
    rest = company.get("/oauth/installedLocations", params={**query, "skip": 2, "limit": 2}).json()
    assert first["count"] == rest["count"] == 3
    ids = [row["_id"] for row in first["locations"] + rest["locations"]]
    assert ids == list(agency.installed_location_ids)
    assert all(row["isInstalled"] for row in first["locations"] + rest["locations"])
    everything = company.get(
        "/oauth/installedLocations", params={k: query[k] for k in ("companyId", "appId")}
    )
    assert everything.json()["count"] == 4  # the company's location without the app is listed as such
    # A location token may not list the company's locations.
    located = SandboxClient(agency, token=agency.access_token())
    assert located.get("/oauth/installedLocations", params=query).status_code == 401


def test_location_tokens_reach_their_own_location_only(agency: SandboxHandle) -> None:
    company_token = _company_token(agency)
    first, second, third = agency.installed_location_ids
    minted = _location_token(agency, company_token, second)
    assert minted.status_code == 200, minted.text
    body = minted.json()
    assert body["locationId"] == second and "oauth.write" not in body["scope"].split()
    located = SandboxClient(agency, token=body["access_token"])
    mine = located.post("/contacts/search", json={"locationId": second, "pageLimit": 100}).json()
    assert mine["total"] == 5 and {c["locationId"] for c in mine["contacts"]} == {second}
    # Each installed location has its own seeded contacts.
    assert {c["id"] for c in agency.all_contacts(first)}.isdisjoint(c["id"] for c in mine["contacts"])
    assert len(agency.all_contacts(third)) == 5
    for location in (first, third):
        refused = located.post("/contacts/search", json={"locationId": location, "pageLimit": 1})
        assert (refused.status_code, refused.json()["message"]) == (
            403,
            "The token does not have access to this location.",
        )
        another = agency.all_contacts(location)[0]["id"]
        assert located.get(f"/contacts/{another}").status_code == 403
    # The company token itself reaches no location's contacts.
    company = SandboxClient(agency, token=company_token)
    assert company.post("/contacts/search", json={"locationId": first, "pageLimit": 1}).status_code == 403
    assert agency.stats()["location_tokens_minted"] == {second: 1}


def test_location_token_refusals(agency: SandboxHandle) -> None:
    company_token = _company_token(agency)
    without_app = agency.info()["otherLocationId"]
    assert _location_token(agency, company_token, without_app).status_code == 400
    agency.suspend_locations(agency.installed_location_ids[2])
    suspended = _location_token(agency, company_token, agency.installed_location_ids[2])
    assert (suspended.status_code, suspended.json()["message"]) == (400, "Location is not active")
    assert _location_token(agency, company_token, agency.installed_location_ids[1]).status_code == 200
    agency.suspend_locations()
    assert _location_token(agency, company_token, agency.installed_location_ids[2]).status_code == 200
    # A location token mints nothing; a company token without oauth.write neither.
    assert _location_token(agency, agency.access_token(), agency.installed_location_ids[1]).status_code == 401
    read_only = agency.agency_connection(scopes="oauth.readonly contacts.readonly")
    form = {
        "client_id": agency.client_id,
        "client_secret": agency.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": read_only["extra"]["refresh_token"],
    }
    token = requests.post(f"{agency.base_url}/oauth/token", data=form, timeout=10).json()["access_token"]
    assert _location_token(agency, token, agency.installed_location_ids[1]).status_code == 401


def test_each_location_has_its_own_rate_window(sandbox_factory: Callable[..., SandboxHandle]) -> None:
    # A window far longer than the test, so that no request leaves it while the test runs.
    agency = sandbox_factory(seed=1, locations=3, rate_limit=4, rate_interval=600.0)
    company_token = _company_token(agency)
    clients = [
        SandboxClient(agency, token=_location_token(agency, company_token, location).json()["access_token"])
        for location in agency.installed_location_ids
    ]
    agency.reset_stats()
    for client, location in zip(clients, agency.installed_location_ids, strict=True):
        statuses = [
            client.post("/contacts/search", json={"locationId": location, "pageLimit": 1}).status_code
            for _ in range(4)
        ]
        assert statuses == [200] * 4
        assert (
            client.post("/contacts/search", json={"locationId": location, "pageLimit": 1}).status_code == 429
        )
    peaks = agency.stats()["peak_requests_in_window"]
    assert sorted(peaks.values()) == [4, 4, 4]
    assert {key.split("/")[1] for key in peaks} == set(agency.installed_location_ids)

"""Both API versions on the wire (2021-07-28 and v3), the v3 OAuth routes, and the admin token of /_sandbox/*."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_contacts.sandbox import SandboxHandle
from contacts_sandbox.client import SandboxClient

pytestmark = pytest.mark.integration


@pytest.fixture
def v3(sandbox: SandboxHandle) -> SandboxClient:
    """A client sending ``Version: v3`` with a fresh OAuth token."""
    return SandboxClient(sandbox, version="v3")


def _colour(sb: SandboxHandle) -> str:
    return next(f["id"] for f in sb.info()["customFields"] if f["fieldKey"] == "contact.favourite_colour")


@pytest.mark.parametrize("version", ["2021-07-28", "v3"])
@pytest.mark.parametrize("value_key", ["fieldValue", "field_value"])
def test_custom_field_values_are_stored_under_either_name(
    sandbox: SandboxHandle, version: str, value_key: str
) -> None:
    api = SandboxClient(sandbox, version=version)
    field = _colour(sandbox)
    created = api.create_contact(firstName="Cf", customFields=[{"id": field, value_key: "green"}])
    assert api.get(f"/contacts/{created['id']}").json()["contact"]["customFields"] == [
        {"id": field, "value": "green"}
    ]


@pytest.mark.parametrize("version", ["2021-07-28", "v3"])
def test_unknown_keys_in_a_custom_field_item_are_refused(sandbox: SandboxHandle, version: str) -> None:
    api = SandboxClient(sandbox, version=version)
    body = {
        "locationId": sandbox.location_id,
        "firstName": "Typo",
        "customFields": [{"id": _colour(sandbox), "fieldvalue": "red", "colour": "red"}],
    }
    refused = api.post("/contacts/", json=body)
    assert refused.status_code == 422
    assert refused.json()["message"] == [
        "customFields.property colour should not exist",
        "customFields.property fieldvalue should not exist",
    ]
    assert not [c for c in sandbox.all_contacts() if c.get("firstName") == "Typo"]


def test_success_flags_per_version(api: SandboxClient, v3: SandboxClient) -> None:
    contact = api.create_contact(firstName="Flags")
    path = f"/contacts/{contact['id']}"
    assert set(api.put(path, json={"city": "Oslo"}).json()) == {"succeded", "contact", "traceId"}
    # v3 update-contact has succeeded only; delete keeps the deprecated spelling beside it.
    assert set(v3.put(path, json={"city": "Bergen"}).json()) == {"succeeded", "contact", "traceId"}
    deleted = v3.delete(path).json()
    assert deleted["succeeded"] is True and deleted["succeded"] is True


def test_remove_all_campaigns_path_per_version(
    api: SandboxClient, v3: SandboxClient, sandbox: SandboxHandle
) -> None:
    contact = api.create_contact(firstName="Campaigns")["id"]
    campaign = sandbox.info()["campaignIds"][0]
    assert api.post(f"/contacts/{contact}/campaigns/{campaign}", json={}).status_code == 201
    assert v3.delete(f"/contacts/{contact}/campaigns/remove-all").json()["succeeded"] is True
    assert api.delete(f"/contacts/{contact}/campaigns/removeAll").json()["succeded"] is True
    # Each literal exists in its own version only; elsewhere it is a campaign id, as on the API.
    for client, literal in ((api, "remove-all"), (v3, "removeAll")):
        answer = client.delete(f"/contacts/{contact}/campaigns/{literal}")
        assert (answer.status_code, answer.json()["message"]) == (404, "Campaign not found")


def test_dnd_channel_keys_per_version(api: SandboxClient, v3: SandboxClient) -> None:
    contact = v3.post(
        "/contacts/",
        json={
            "locationId": api.handle.location_id,
            "firstName": "Dnd",
            "dndSettings": {"sms": {"status": "active"}},
        },
    ).json()["contact"]
    assert contact["dndSettings"] == {"sms": {"status": "active"}}
    assert api.get(f"/contacts/{contact['id']}").json()["contact"]["dndSettings"] == {
        "SMS": {"status": "active"}
    }


def test_list_endpoint_is_not_in_v3(v3: SandboxClient, sandbox: SandboxHandle) -> None:
    answer = v3.get("/contacts/", params={"locationId": sandbox.location_id})
    assert answer.status_code == 400 and "Version" in answer.json()["message"]


def _token(sb: SandboxHandle, **kwargs: object) -> requests.Response:
    return requests.post(f"{sb.base_url}/oauth/token", headers={"Version": "v3"}, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_v3_token_exchange_takes_camel_case_form_and_json(sandbox: SandboxHandle) -> None:
    fields = {
        "clientId": sandbox.client_id,
        "clientSecret": sandbox.client_secret,
        "grantType": "refresh_token",
    }
    by_form = _token(sandbox, data={**fields, "refreshToken": sandbox.mint_refresh_token()})
    by_json = _token(sandbox, json={**fields, "refreshToken": sandbox.mint_refresh_token()})
    for answer in (by_form, by_json):
        assert answer.status_code == 200, answer.text
        assert {"accessToken", "refreshToken", "expiresIn", "tokenType", "userType"} <= set(answer.json())
        assert "access_token" not in answer.json()
    token = by_json.json()["accessToken"]
    contacts = SandboxClient(sandbox, token=token, version="v3").post(
        "/contacts/search", json={"locationId": sandbox.location_id, "pageLimit": 1}
    )
    assert contacts.status_code == 200
    spent = by_form.request.body
    again = requests.post(
        f"{sandbox.base_url}/oauth/token",
        data=spent,
        headers={"Version": "v3", "Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert (again.status_code, again.json()["message"]) == (400, "Invalid grant: refresh token is invalid")
    snake = _token(sandbox, data={"client_id": sandbox.client_id, "client_secret": sandbox.client_secret})
    assert (snake.status_code, snake.json()["message"]) == (400, "Missing parameter: clientId")


def _company_token(sb: SandboxHandle) -> str:
    minted = requests.post(
        f"{sb.base_url}/_sandbox/tokens",
        json={"userType": "Company", "scopes": "oauth.readonly oauth.write contacts.readonly contacts.write"},
        headers={"Authorization": f"Bearer {sb.admin_token}"},
        timeout=10,
    ).json()["refresh_token"]
    fields = {"clientId": sb.client_id, "clientSecret": sb.client_secret, "grantType": "refresh_token"}
    answer = _token(sb, json={**fields, "refreshToken": minted, "userType": "Company"}).json()
    assert answer["userType"] == "Company"
    return str(answer["accessToken"])


def test_location_token_from_an_agency_token(sandbox: SandboxHandle) -> None:
    company = SandboxClient(sandbox, token=_company_token(sandbox), version="v3")
    form = {"companyId": "sbxCompany0000000001", "locationId": sandbox.location_id}
    answer = company.post("/oauth/location-token", data=form)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["locationId"] == sandbox.location_id and body["refreshToken"]
    located = SandboxClient(sandbox, token=body["accessToken"], version="v3")
    assert located.post("/contacts/search", json={"locationId": sandbox.location_id, "pageLimit": 1}).ok
    # A location token may not mint others.
    assert located.post("/oauth/location-token", data=form).status_code == 401


def test_installed_locations_and_the_aip_error_envelope(sandbox: SandboxHandle) -> None:
    company = SandboxClient(sandbox, token=_company_token(sandbox), version="v3")
    query = {"companyId": "sbxCompany0000000001", "appId": sandbox.client_id.split("-")[0]}
    listed = company.get("/oauth/installed-locations", params={**query, "isInstalled": "true"}).json()
    assert [row["_id"] for row in listed["items"]] == [sandbox.location_id]
    assert listed["pagination"]["hasNextPage"] is False
    missing = company.get("/oauth/installed-locations", params={**query, "appId": "nope"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "RESOURCE_NOT_FOUND"
    assert set(missing.json()["error"]) == {"code", "message", "details", "resolution"}


def test_control_routes_need_the_admin_token(sandbox: SandboxHandle) -> None:
    base = sandbox.base_url
    assert requests.get(f"{base}/_sandbox/health", timeout=10).status_code == 200
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {sandbox.private_token}"},
    ):
        refused = requests.get(f"{base}/_sandbox/info", headers=headers, timeout=10)
        assert refused.status_code == 401 and "admin token" in refused.json()["message"]
        assert (
            requests.post(f"{base}/_sandbox/tokens", json={}, headers=headers, timeout=10).status_code == 401
        )
    assert sandbox.info()["privateToken"] == sandbox.private_token  # the handle knows the token

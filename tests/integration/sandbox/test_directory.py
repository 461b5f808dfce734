"""The location's businesses, users and workflows (sandbox/directory.py), in the shapes the specs give."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_contacts.sandbox import SandboxHandle
from contacts_sandbox.client import SandboxClient

pytestmark = pytest.mark.integration


def test_businesses_list_create_get(sandbox: SandboxHandle, api: SandboxClient) -> None:
    location = {"locationId": sandbox.location_id}
    listed = api.get("/businesses/", params=location).json()["businesses"]
    assert [b["id"] for b in listed] == sandbox.info()["businessIds"], "the ids seeded contacts carry"
    assert all(b["name"] and b["locationId"] == sandbox.location_id for b in listed)

    created = api.post("/businesses/", json={**location, "name": "Phone Co", "city": "Austin"})
    assert created.status_code == 201
    business = created.json()["buiseness"]  # (sic, the spec's UpdateBusinessResponseDto)
    assert created.json()["success"] is True and (business["name"], business["city"]) == (
        "Phone Co",
        "Austin",
    )
    assert api.get(f"/businesses/{business['id']}").json()["business"]["name"] == "Phone Co"
    page = api.get("/businesses/", params={**location, "skip": "8", "limit": "5"}).json()["businesses"]
    assert [b["id"] for b in page] == [business["id"]]

    refused = api.post("/businesses/", json={**location, "name": "X", "industry": "retail"})
    assert refused.status_code == 422 and refused.json()["message"] == ["property industry should not exist"]
    assert api.post("/businesses/", json=location).json()["message"] == ["name should not be empty"]
    assert api.get("/businesses/").status_code == 422, "locationId is required"
    assert api.get("/businesses/nope").status_code == 404


def test_users_and_workflows(sandbox: SandboxHandle, api: SandboxClient) -> None:
    info = sandbox.info()
    location = {"locationId": sandbox.location_id}
    users = api.get("/users/", params=location).json()["users"]
    assert [u["id"] for u in users] == info["userIds"]
    assert len({u["email"] for u in users}) == len(users) and all("@" in u["email"] for u in users)
    workflows = api.get("/workflows/", params=location).json()["workflows"]
    assert [w["id"] for w in workflows] == info["workflowIds"]
    other = {"locationId": sandbox.other_location_id}
    assert api.get("/workflows/", params=other).status_code == 403


def test_memberships_admin_view(sandbox: SandboxHandle, api: SandboxClient) -> None:
    info = sandbox.info()
    contact = api.create_contact(firstName="M")
    api.post(f"/contacts/{contact['id']}/workflow/{info['workflowIds'][0]}", json={})
    answer = requests.get(
        f"{sandbox.base_url}/_sandbox/memberships",
        params={"contactId": contact["id"]},
        headers={"Authorization": f"Bearer {sandbox.admin_token}"},  # /_sandbox/* need the admin token
        timeout=30,
    )
    assert answer.json()["workflows"] == [info["workflowIds"][0]] and answer.json()["campaigns"] == []

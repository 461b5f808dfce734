"""The Locations API's custom field routes on the sandbox: create, read, rename, delete, and the derived key."""

from __future__ import annotations

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle
from contacts_sandbox.client import SandboxClient

pytestmark = pytest.mark.integration


def test_create_read_rename_delete_with_the_key_derived_from_the_name(
    sandbox: SandboxHandle, api: SandboxClient
) -> None:
    base = f"/locations/{sandbox.location_id}/customFields"
    created = api.post(base, json={"name": "  Lead Source (2024)!", "dataType": "TEXT"})
    assert created.status_code == 201
    field = created.json()["customField"]
    assert (field["fieldKey"], field["model"], field["locationId"]) == (
        "contact.lead_source_2024",
        "contact",
        sandbox.location_id,
    )
    # The same key from another name: HighLevel keeps keys unique; the sandbox counts up.
    again = api.post(base, json={"name": "lead-source 2024", "dataType": "TEXT"}).json()["customField"]
    assert again["fieldKey"] == "contact.lead_source_2024_1"
    assert api.post(base, json={"name": "Größe", "dataType": "TEXT"}).json()["customField"]["fieldKey"] == (
        "contact.größe"
    )

    renamed = api.put(f"{base}/{field['id']}", json={"name": "Where they came from"})
    assert renamed.json()["customField"]["fieldKey"] == "contact.lead_source_2024"  # a rename keeps the key
    assert api.get(f"{base}/{field['id']}").json()["customField"]["name"] == "Where they came from"
    assert field["id"] in {f["id"] for f in api.get(base).json()["customFields"]}

    assert api.delete(f"{base}/{field['id']}").json()["succeded"] is True
    assert api.get(f"{base}/{field['id']}").status_code == 404
    assert field["id"] not in {f["id"] for f in api.get(base).json()["customFields"]}


def test_bad_bodies_and_other_locations_are_refused(sandbox: SandboxHandle, api: SandboxClient) -> None:
    base = f"/locations/{sandbox.location_id}/customFields"
    for body, reason in (
        ({"name": "x", "dataType": "TEXT", "fieldKey": "contact.x"}, "property fieldKey should not exist"),
        ({"name": "?!", "dataType": "TEXT"}, "name must contain a letter or a digit"),
        ({"name": "x", "dataType": "BLOB"}, "dataType must be one of"),
        ({"dataType": "TEXT"}, "name"),
    ):
        response = api.post(base, json=body)
        assert response.status_code == 422 and reason in str(response.json()["message"]), body
    assert (
        api.post("/locations/elsewhere/customFields", json={"name": "x", "dataType": "TEXT"}).status_code
        == 403
    )
    assert api.put(f"{base}/nope", json={"name": "x"}).status_code == 404

"""Every path and method of the official contacts.json is served, with the spec's status and envelope."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle
from contacts_sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

# The project's shared reference sits beside the repository (as in CI); a user's clone may not have it.
SHARED_SPEC = Path(__file__).resolve().parents[3].parent / "shared" / "ghl-api" / "contacts.json"


def bundled_spec_text() -> str:
    return resources.files("contacts_sandbox").joinpath("contacts.json").read_text()


def load_official_spec() -> dict[str, Any]:
    """The official spec: the shared copy when present, else the one bundled with the sandbox (verbatim)."""
    text = SHARED_SPEC.read_text() if SHARED_SPEC.exists() else bundled_spec_text()
    # The spec points at ../common/common-schemas.json for error bodies; only 2xx schemas matter here.
    return json.loads(text.replace("../common/common-schemas.json", "common-schemas.json"))


def _envelope(spec: dict[str, Any], op: dict[str, Any]) -> tuple[int, list[str]]:
    code = min(c for c in op["responses"] if c.startswith("2"))
    schema = op["responses"][code].get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return int(code), list(schema.get("properties", {}))


SPEC = load_official_spec()
OPERATIONS = [(m.upper(), p) for p, ops in SPEC["paths"].items() for m in ops]


def test_the_spec_has_32_operations() -> None:
    assert len(OPERATIONS) == 32


def _valid_call(
    method: str, path: str, api: SandboxClient, sb: SandboxHandle
) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
    """Return (concrete path, query, JSON body) of a valid call of one operation."""
    info = sb.info()
    loc = sb.location_id
    contact = api.create_contact(
        firstName="Spec",
        email=f"spec.{method.lower()}.{abs(hash(path))}@example.com",
        phone=f"+1555{abs(hash((method, path))) % 10**7:07d}",
        tags=["one"],
    )
    cid = contact["id"]
    task = api.post(
        f"/contacts/{cid}/tasks", json={"title": "t", "dueDate": "2030-01-01T00:00:00Z", "completed": False}
    )
    note = api.post(f"/contacts/{cid}/notes", json={"body": "n"})
    api.post(f"/contacts/{cid}/followers", json={"followers": [info["userIds"][0]]})
    values = {
        "contactId": cid,
        "taskId": task.json()["task"]["id"],
        "id": note.json()["note"]["id"],
        "campaignId": info["campaignIds"][0],
        "workflowId": info["workflowIds"][0],
        "businessId": info["businessIds"][0],
        "type": "add",
    }
    concrete = path
    for name, value in values.items():
        concrete = concrete.replace("{" + name + "}", value)
    queries = {
        "GET /contacts/search/duplicate": {"locationId": loc, "email": contact["email"]},
        "GET /contacts/": {"locationId": loc, "limit": 5},
        "GET /contacts/business/{businessId}": {"locationId": loc},
    }
    bodies: dict[str, dict[str, Any]] = {
        "POST /contacts/search": {"locationId": loc, "pageLimit": 5},
        "POST /contacts/{contactId}/tasks": {
            "title": "x",
            "dueDate": "2030-01-01T00:00:00Z",
            "completed": False,
        },
        "PUT /contacts/{contactId}/tasks/{taskId}": {"title": "y"},
        "PUT /contacts/{contactId}/tasks/{taskId}/completed": {"completed": True},
        "POST /contacts/{contactId}/tags": {"tags": ["a"]},
        "DELETE /contacts/{contactId}/tags": {"tags": ["one"]},
        "POST /contacts/{contactId}/notes": {"body": "hello"},
        "PUT /contacts/{contactId}/notes/{id}": {"body": "changed"},
        "POST /contacts/bulk/tags/update/{type}": {"contacts": [cid], "tags": ["bulk"], "locationId": loc},
        "POST /contacts/bulk/business": {
            "locationId": loc,
            "ids": [cid],
            "businessId": info["businessIds"][0],
        },
        "PUT /contacts/{contactId}": {"firstName": "Changed"},
        "POST /contacts/upsert": {"locationId": loc, "email": contact["email"], "lastName": "Upserted"},
        "POST /contacts/{contactId}/followers": {"followers": [info["userIds"][1]]},
        "DELETE /contacts/{contactId}/followers": {"followers": [info["userIds"][0]]},
        "POST /contacts/{contactId}/campaigns/{campaignId}": {},
        "POST /contacts/{contactId}/workflow/{workflowId}": {"eventStartTime": "2030-01-01T10:00:00+02:00"},
        "DELETE /contacts/{contactId}/workflow/{workflowId}": {},
        "POST /contacts/": {"locationId": loc, "firstName": "New", "email": "brand.new@example.com"},
    }
    key = f"{method} {path}"
    return concrete, queries.get(key), bodies.get(key)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_is_served_with_its_envelope(
    method: str, path: str, api: SandboxClient, sandbox: SandboxHandle
) -> None:
    op = SPEC["paths"][path][method.lower()]
    status, envelope = _envelope(SPEC, op)
    concrete, query, body = _valid_call(method, path, api, sandbox)
    response = api.request(method, concrete, params=query, json=body)
    assert response.status_code == status, response.text
    data = response.json()
    assert "traceId" in data
    missing = [k for k in envelope if k not in data]
    assert not missing, f"{method} {path}: envelope keys {missing} missing from {sorted(data)}"
    if path == "/contacts/search":
        assert {"contacts", "total"} <= set(data)
    if path == "/contacts/search/duplicate":
        assert data["contact"]["id"]


def test_the_bundled_spec_is_the_official_one_verbatim() -> None:
    if not SHARED_SPEC.exists():
        pytest.skip(f"the official spec is not beside this clone ({SHARED_SPEC}); nothing to compare with")
    assert json.loads(bundled_spec_text()) == json.loads(SHARED_SPEC.read_text())

"""The Locations API's task search on the sandbox, and the hook's pager over it."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle
from contacts_sandbox.client import SandboxClient

pytestmark = pytest.mark.integration
ROUTE = "POST /locations/{locationId}/tasks/search"
# The project's shared reference beside the repository (as in CI); a user's clone may not have it.
SHARED_SPEC = Path(__file__).resolve().parents[3].parent / "shared" / "ghl-api" / "locations.json"


def test_the_bundled_spec_is_the_official_one() -> None:
    bundled = resources.files("contacts_sandbox").joinpath("locations.json").read_text()
    if SHARED_SPEC.exists():
        assert bundled == SHARED_SPEC.read_text()
    from contacts_sandbox.locations import BODY, VERSIONS

    assert set(BODY.properties) == {
        "contactId",
        "completed",
        "assignedTo",
        "query",
        "limit",
        "skip",
        "businessId",
    }
    assert VERSIONS == ("2021-07-28",)


def _search(api: SandboxClient, sb: SandboxHandle, **body: Any) -> list[dict[str, Any]]:
    response = api.post(f"/locations/{sb.location_id}/tasks/search", json=body)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"tasks", "traceId"}
    return response.json()["tasks"]


def _per_contact_tasks(api: SandboxClient, sb: SandboxHandle) -> dict[str, dict[str, Any]]:
    tasks = {}
    for contact in sb.all_contacts():
        for task in api.get(f"/contacts/{contact['id']}/tasks").json()["tasks"]:
            tasks[task["id"]] = task
    return tasks


def test_pages_cover_every_task_of_the_location_once(api: SandboxClient, sandbox: SandboxHandle) -> None:
    expected = _per_contact_tasks(api, sandbox)
    assert len(_search(api, sandbox)) == min(25, len(expected))  # the spec's default limit
    seen: list[str] = []
    skip = 0
    while page := _search(api, sandbox, limit=7, skip=skip):
        seen += [task["id"] for task in page]
        skip += len(page)
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))


def test_filters(api: SandboxClient, sandbox: SandboxHandle) -> None:
    expected = _per_contact_tasks(api, sandbox)
    done = _search(api, sandbox, completed=True, limit=1000)
    assert {t["id"] for t in done} == {i for i, t in expected.items() if t["completed"]}
    owner = next(iter(expected.values()))["contactId"]
    mine = _search(api, sandbox, contactId=[owner], limit=1000)
    assert {t["id"] for t in mine} == {i for i, t in expected.items() if t["contactId"] == owner}
    assert _search(api, sandbox, contactId=[], limit=1000) == []


def test_validation_and_location(api: SandboxClient, sandbox: SandboxHandle) -> None:
    path = f"/locations/{sandbox.location_id}/tasks/search"
    unknown = api.post(path, json={"contactIds": ["x"]})
    assert unknown.status_code == 422
    assert unknown.json()["message"] == ["property contactIds should not exist"]
    assert api.post(path, json={"limit": "ten"}).status_code == 422
    assert api.post(path, json={"skip": -1}).status_code == 422
    other = api.post(f"/locations/{sandbox.info()['otherLocationId']}/tasks/search", json={})
    assert other.status_code == 403


def test_hook_pages_until_a_short_page(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", json.dumps(sandbox.private_connection()))
    hook = ContactsHook()
    sandbox.reset_stats()
    tasks = list(hook.search_location_tasks(page_limit=4))
    assert len(tasks) == len({t["id"] for t in tasks}) > 4
    assert sandbox.stats()["requests_by_route"][ROUTE] == len(tasks) // 4 + 1

"""The real ContactsHook against a running sandbox over HTTP: every endpoint, OAuth, limits, faults.

Every test runs with both API versions the hook speaks (``extra.api_version``): ``2021-07-28`` and ``v3``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_contacts.auth import MemoryTokenStore
from airflow_provider_contacts.exceptions import (
    ContactsApiError,
    ContactsAuthError,
    ContactsConfigError,
    ContactsNotFoundError,
    ContactsPermissionError,
)
from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.sandbox import SandboxHandle
from contacts_sandbox.spec import operations

pytestmark = pytest.mark.integration
HookFactory = Callable[..., ContactsHook]


@pytest.fixture(params=["2021-07-28", "v3"])
def api_version(request: pytest.FixtureRequest) -> str:
    """The connection's ``extra.api_version``."""
    return str(request.param)


@pytest.fixture
def hook_for(monkeypatch: pytest.MonkeyPatch, api_version: str) -> HookFactory:
    """Build a ContactsHook on a sandbox connection (``AIRFLOW_CONN_<ID>``) with a memory token store."""
    counter = iter(range(1000))

    def make(
        sb: SandboxHandle,
        connection: dict[str, Any] | None = None,
        store: MemoryTokenStore | None = None,
        **extra: Any,
    ) -> ContactsHook:
        conn = json.loads(sb.conn_env(connection))
        conn["extra"].update({"api_version": api_version, **extra})
        conn_id = f"contacts_sbx_{next(counter)}"
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return ContactsHook(conn_id, token_store=store or MemoryTokenStore())

    return make


def test_every_hook_method_against_the_sandbox(sandbox: SandboxHandle, hook_for: HookFactory) -> None:
    hook = hook_for(sandbox)
    info = sandbox.info()
    sandbox.reset_stats()
    assert hook.test_connection()[0] is True

    colour = next(f for f in info["customFields"] if f["fieldKey"] == "contact.favourite_colour")
    contact = hook.create_contact(
        {
            "firstName": "Hook",
            "email": "hook@example.com",
            "tags": ["a"],
            # Written the same way whatever the version: the hook sends field_value or fieldValue, SMS or sms.
            "customFields": [{"id": colour["id"], "field_value": "red"}],
            "dndSettings": {"SMS": {"status": "active"}},
        }
    )
    cid = contact["id"]
    read = hook.get_contact(cid)
    assert read["email"] == "hook@example.com"
    assert read["customFields"] == [{"id": colour["id"], "value": "red"}]
    assert read["dndSettings"] == {("sms" if hook.api.name == "v3" else "SMS"): {"status": "active"}}
    assert hook.update_contact(cid, {"lastName": "Tester", "tags": ["b"]})["tags"] == ["b"]
    upserted = hook.upsert_contact({"email": "hook@example.com", "city": "Paris"})
    assert upserted["new"] is False and upserted["contact"]["id"] == cid
    found = list(
        hook.search_contacts(filters=[{"field": "email", "operator": "eq", "value": "hook@example.com"}])
    )
    assert [c["id"] for c in found] == [cid]
    assert len(list(hook.search_contacts(page_limit=7))) == len(sandbox.all_contacts())
    assert hook.find_duplicate_contact(email="hook@example.com")["id"] == cid
    assert hook.find_duplicate_contact(email="nobody@example.com") is None
    if hook.api.lists_contacts:
        listed = list(hook.list_contacts(page_size=9))
        assert len(listed) == len({c["id"] for c in listed}) == len(sandbox.all_contacts())
    else:
        with pytest.raises(ContactsConfigError, match="use search_contacts"):
            next(hook.list_contacts())

    business = info["businessIds"][0]
    assert hook.bulk_update_business([cid], business)["ids"] == [cid]
    members = [c["id"] for c in hook.get_business_contacts(business)]
    assert cid in members
    assert len(members) == sum(c["businessId"] == business for c in sandbox.all_contacts())
    hook.bulk_update_business([cid], None)
    assert hook.get_contact(cid).get("businessId") is None

    assert hook.add_tags(cid, ["x", "y"]) == ["b", "x", "y"]
    assert hook.remove_tags(cid, ["x"]) == ["b", "y"]
    assert hook.bulk_update_tags([cid], ["z"])["errorCount"] == 0
    assert hook.bulk_update_tags([cid], ["z"], action="remove")["errorCount"] == 0

    note = hook.create_note(cid, "first note", title="T")
    assert [n["id"] for n in hook.get_notes(cid)] == [note["id"]]
    assert hook.get_note(cid, note["id"])["body"] == "first note"
    assert hook.update_note(cid, note["id"], body="changed")["body"] == "changed"
    hook.delete_note(cid, note["id"])
    assert hook.get_notes(cid) == []

    due = datetime.now(timezone.utc) + timedelta(days=2)
    task = hook.create_task(cid, "call back", due, body="soon", assigned_to=info["userIds"][0])
    assert [t["id"] for t in hook.get_tasks(cid)] == [task["id"]]
    assert hook.get_task(cid, task["id"])["title"] == "call back"
    assert hook.update_task(cid, task["id"], title="call later")["title"] == "call later"
    assert hook.complete_task(cid, task["id"])["completed"] is True
    hook.delete_task(cid, task["id"])
    assert hook.get_tasks(cid) == []

    event = hook.request(
        "POST",
        "/calendars/events/appointments",
        json={
            "calendarId": info["calendarIds"][0],
            "locationId": hook.location_id,
            "contactId": cid,
            "startTime": "2030-01-01T10:00:00Z",
            "endTime": "2030-01-01T10:30:00Z",
            "title": "Demo",
        },
        version="2021-04-15",
    )
    assert [e["id"] for e in hook.get_appointments(cid)] == [event["id"]]

    campaign, workflow = info["campaignIds"][0], info["workflowIds"][0]
    assert hook.add_to_campaign(cid, campaign)["succeeded"] is True
    assert hook.remove_from_campaign(cid, campaign)["succeeded"] is True
    # removeAll in 2021-07-28, remove-all in v3: answered by the route itself, not as a campaign id.
    assert hook.remove_from_all_campaigns(cid) == {"succeeded": True, "succeded": True}
    assert hook.add_to_workflow(cid, workflow, event_start_time=due)["succeeded"] is True
    assert hook.remove_from_workflow(cid, workflow)["succeeded"] is True
    added = hook.add_followers(cid, info["userIds"][:2])
    assert added["followersAdded"] == info["userIds"][:2]
    assert hook.remove_followers(cid, info["userIds"][:1])["followers"] == info["userIds"][1:2]

    fields = hook.get_custom_fields()
    assert {f["id"] for f in fields} == {f["id"] for f in info["customFields"]}
    results = hook.upsert_contacts(
        [{"email": "many1@example.com"}, {"email": "hook@example.com"}, {"email": "bad", "nope": 1}],
        max_workers=2,
    )
    assert [(r["ok"], r["new"]) for r in results] == [(True, True), (True, False), (False, None)]
    assert results[2]["status"] == 422

    hook.delete_contact(cid)
    with pytest.raises(ContactsNotFoundError):
        hook.get_contact(cid)

    served = sandbox.stats()["requests_by_route"]
    missing = [f"{m} {p}" for m, p in operations(hook.api.name) if f"{m} {p}" not in served]
    assert not missing, f"hook methods never reached {missing}"


def test_expired_access_token_is_refreshed_on_401(sandbox: SandboxHandle, hook_for: HookFactory) -> None:
    # The store holds an access token the server no longer accepts, but the hook believes valid.
    store = MemoryTokenStore()
    hook = hook_for(sandbox, store=store)
    first = hook.get_contact(sandbox.all_contacts()[0]["id"])
    tokens = store.load()
    assert tokens is not None
    store.save({**tokens, "access_token": "sbx-at-expired-long-ago"})
    hook = hook_for(sandbox, store=store)
    hook.auth  # noqa: B018  (set up with the same connection seed as the stored tokens)
    before = sandbox.stats()["token_refreshes"]
    assert hook.get_contact(first["id"])["id"] == first["id"]
    assert sandbox.stats()["token_refreshes"] == before + 1
    assert store.load()["refresh_token"] != tokens["refresh_token"]  # the rotated pair was saved


def test_short_lived_tokens_are_refreshed_before_expiry(
    sandbox_factory: Callable[..., SandboxHandle], hook_for: HookFactory
) -> None:
    # Long enough that the refreshed token outlives one request even on a loaded machine (no third refresh).
    sb = sandbox_factory(seed=3, access_token_ttl=2.0)
    hook = hook_for(sb)
    contact_id = sb.all_contacts()[0]["id"]
    hook.get_contact(contact_id)
    expires_at = hook.auth.expires_at
    assert expires_at is not None
    while time.time() < expires_at:  # wait for the condition: the first token has expired
        time.sleep(0.02)
    assert hook.get_contact(contact_id)["id"] == contact_id
    stats = sb.stats()
    assert stats["token_refreshes"] == 2
    assert stats["requests_by_status"].get("401", 0) == 0


def test_reused_refresh_token_fails_with_a_clear_error(sandbox: SandboxHandle, hook_for: HookFactory) -> None:
    connection = sandbox.oauth_connection()
    used = connection["extra"]["refresh_token"]
    form = {
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": used,
    }
    import requests

    assert requests.post(f"{sandbox.base_url}/oauth/token", data=form, timeout=10).status_code == 200
    hook = hook_for(sandbox, connection=connection)
    with pytest.raises(ContactsAuthError, match=r"(?i)re-authorise"):
        hook.get_contact(sandbox.all_contacts()[0]["id"])
    assert sandbox.stats()["rejected_refresh_tokens"] >= 1


def test_read_only_connection_refuses_writes_before_any_request(
    sandbox: SandboxHandle, hook_for: HookFactory
) -> None:
    hook = hook_for(sandbox, connection=sandbox.oauth_connection("contacts.readonly"))
    contact_id = sandbox.all_contacts()[0]["id"]
    assert hook.get_contact(contact_id)["id"] == contact_id
    sandbox.reset_stats()
    with pytest.raises(ContactsPermissionError):
        hook.add_tags(contact_id, ["nope"])
    assert sandbox.stats()["total_requests"] == 0


def test_private_token_connection(sandbox: SandboxHandle, hook_for: HookFactory) -> None:
    hook = hook_for(
        sandbox, connection=sandbox.private_connection(), scopes="contacts.readonly contacts.write"
    )
    assert hook.create_contact({"firstName": "Pit"})["firstName"] == "Pit"


def test_burst_of_300_stays_under_the_rate_limit(
    sandbox_factory: Callable[..., SandboxHandle], hook_for: HookFactory
) -> None:
    sb = sandbox_factory(seed=20, rate_limit=50, rate_interval=0.5)
    hook = hook_for(sb)
    ids = [c["id"] for c in sb.all_contacts()]
    hook.get_contact(ids[0])
    sb.reset_stats()
    failures: list[BaseException] = []
    done: list[int] = []

    def worker(n: int) -> None:
        for i in range(50):
            try:
                hook.get_contact(ids[(n * 50 + i) % len(ids)])
                done.append(1)
            except BaseException as error:  # any failure is counted
                failures.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert len(done) == 300
    stats = sb.stats()
    assert stats["requests_by_route"]["GET /contacts/{contactId}"] >= 300
    peak = max(stats["peak_requests_in_window"].values())
    assert peak <= 50
    assert stats["rate_limited_429"] == 0, (
        f"the hook's limiter let the server refuse {stats['rate_limited_429']}"
    )


def test_fault_injection_every_call_succeeds_or_fails_clearly(
    sandbox_factory: Callable[..., SandboxHandle], hook_for: HookFactory
) -> None:
    sb = sandbox_factory(
        seed=10, fault_rate=0.2, random_seed=5, slow_ms=50, rate_limit=1000, rate_interval=1.0
    )
    hook = hook_for(sb, retry_backoff=0.02, retry_backoff_max=0.2, timeout=5)
    ids = [c["id"] for c in sb.all_contacts()]
    outcomes: list[str] = []
    for i in range(60):
        try:
            if i % 3 == 0:
                hook.get_contact(ids[i % len(ids)])
            elif i % 3 == 1:
                hook.upsert_contact({"email": f"fault{i}@example.com"})
            else:
                hook.create_note(ids[i % len(ids)], f"note {i}")
            outcomes.append("ok")
        except ContactsApiError as error:
            assert error.method and error.path and error.message
            outcomes.append(type(error).__name__)
    stats = sb.stats()
    assert sum(stats["faults_injected"].values()) > 0
    assert outcomes.count("ok") >= 45, outcomes

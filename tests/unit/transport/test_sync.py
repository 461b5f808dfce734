"""The transport: the slot is taken once the token is ready, one transport per connection per process,
the settings of the shared backend, and the automatic number of workers."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests_mock as rm

from airflow_provider_contacts.auth import MemoryTokenStore
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.hooks.contacts import ContactsHook
from tests.unit.conftest import BASE, connection, token_answer


def test_the_slot_is_taken_after_the_token_is_ready(make_hook, requests_mock: rm.Mocker):
    hook = make_hook(token_store=MemoryTokenStore(), auth_type="oauth")
    slots_taken_during_refresh = []

    def token(request, context):
        slots_taken_during_refresh.append(len(hook.limiter._recent))
        return token_answer(1)

    requests_mock.post(f"{BASE}/oauth/token", json=token)
    requests_mock.get(f"{BASE}/contacts/c1", json={"contact": {"id": "c1"}})
    assert hook.get_contact("c1") == {"id": "c1"}
    assert slots_taken_during_refresh == [0], "no rate slot may be held while the token is fetched"
    assert len(hook.limiter._recent) == 1


def test_hooks_of_one_connection_share_one_transport(make_hook):
    first, second = make_hook(), ContactsHook("contacts_test")
    assert first.transport is second.transport
    assert first.limiter is second.limiter and first.auth is second.auth


def test_an_edited_connection_gets_a_new_transport(make_hook):
    before = make_hook().transport
    after = make_hook(timeout=5).transport
    assert after is not before
    assert after.settings.timeout == 5


def test_requests_sent_still_counts_per_hook(make_hook, requests_mock: rm.Mocker):
    requests_mock.get(f"{BASE}/contacts/c1", json={"contact": {"id": "c1"}})
    first, second = make_hook(), ContactsHook("contacts_test")
    first.get_contact("c1")
    first.get_contact("c1")
    second.get_contact("c1")
    assert (first.requests_sent, second.requests_sent) == (2, 1)


def test_a_bad_rate_limit_backend_names_the_field(make_hook):
    with pytest.raises(ContactsConfigError, match=r"extra\.rate_limit_backend must be a Redis URL"):
        _ = make_hook(rate_limit_backend="memcached://127.0.0.1:11211").settings


def test_the_backend_url_and_its_password_stay_out_of_the_settings_repr(make_hook):
    settings = make_hook(rate_limit_backend="redis://:s3cret-pw@127.0.0.1:6379/0").settings
    assert settings.rate_limit_backend == "redis://:s3cret-pw@127.0.0.1:6379/0"
    assert "s3cret" not in repr(settings)


def test_the_budget_key_ends_with_the_location(monkeypatch: pytest.MonkeyPatch):
    extra = json.loads(connection(location_id="locA"))
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_TEST", json.dumps(extra))
    key_a = ContactsHook("contacts_test").settings.budget_key
    extra["extra"]["location_id"] = "locB"
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_TEST", json.dumps(extra))
    key_b = ContactsHook("contacts_test").settings.budget_key
    assert key_a.endswith(":locA") and key_b.endswith(":locB")
    assert key_a.rsplit(":", 1)[0] == key_b.rsplit(":", 1)[0], "same app and host: only the location differs"


@pytest.mark.parametrize(("latency", "expected"), [(None, 64), (0.15, 61), (0.05, 21), (0.01, 5), (5.0, 64)])
def test_automatic_workers_follow_the_measured_latency(hook, latency, expected):
    transport = hook.transport
    if latency is not None:
        transport.observe_latency(latency)
    assert transport.concurrency() == expected


def test_before_any_answer_a_windows_worth_goes_out_at_once_and_no_more(make_hook):
    assert make_hook(requests_per_10s=10).transport.concurrency() == 10
    assert make_hook(requests_per_10s=1).transport.concurrency() == 2, "two at least, as with a latency"


def test_upsert_contacts_without_max_workers_sizes_itself(hook, requests_mock: rm.Mocker):
    requests_mock.post(f"{BASE}/contacts/upsert", json={"contact": {"id": "x"}, "new": True})
    results = hook.upsert_contacts([{"email": f"p{i}@example.com"} for i in range(30)])
    assert [r["ok"] for r in results] == [True] * 30
    assert hook.transport.latency is not None, "the run measured the latency it sized itself from"


def test_hooks_that_look_the_connection_up_at_once_share_one_lookup(make_hook, monkeypatch):
    from airflow_provider_contacts.hooks import contacts

    make_hook()  # the connection contacts_test
    original = ContactsHook.get_connection.__func__  # type: ignore[attr-defined]
    lookups, release = [], threading.Event()

    def held(cls, conn_id):
        lookups.append(conn_id)
        assert release.wait(timeout=10)
        return original(cls, conn_id)

    monkeypatch.setattr(ContactsHook, "get_connection", classmethod(held))
    hooks = [ContactsHook("contacts_test", location_id=f"loc{n}") for n in range(5)]
    threads = [threading.Thread(target=lambda hook=hook: hook.transport) for hook in hooks]
    for thread in threads:
        thread.start()
    key = (ContactsHook, "contacts_test")
    deadline = time.monotonic() + 10
    while contacts._CONNECTION_LOOKUPS.waiting(key) < 4 and time.monotonic() < deadline:
        threading.Event().wait(0.001)
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert lookups == ["contacts_test"], "five hooks asking at once: one lookup"
    assert len({hook.transport.settings.location_id for hook in hooks}) == 5
    # Nothing is kept: a hook that asks later looks the connection up again (an edit is noticed).
    assert make_hook(timeout=5).settings.timeout == 5
    assert lookups == ["contacts_test"] * 2

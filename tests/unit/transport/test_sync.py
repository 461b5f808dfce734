"""The transport: the slot is taken once the token is ready, one transport per connection per process,
the settings of the shared backend, and the automatic number of workers."""

from __future__ import annotations

import json

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


API = "https://services.leadconnectorhq.com/contacts/?locationId=loc1"


def test_the_session_takes_proxies_and_ca_bundle_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path
):
    from airflow_provider_contacts.transport.sync import new_session

    bundle = tmp_path / "corporate-ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    settings = new_session().merge_environment_settings(API, {}, None, None, None)
    assert settings["proxies"]["https"] == "http://proxy.test:3128"
    assert settings["verify"] == str(bundle)


def test_no_proxy_still_bypasses_the_proxy(monkeypatch: pytest.MonkeyPatch):
    from airflow_provider_contacts.transport.sync import new_session

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "services.leadconnectorhq.com")
    session = new_session()
    assert "https" not in session.merge_environment_settings(API, {}, None, None, None)["proxies"]
    other = session.merge_environment_settings("https://other.test/x", {}, None, None, None)
    assert other["proxies"]["https"] == "http://proxy.test:3128", "each origin is read for itself"


def test_a_request_of_its_own_proxies_is_not_cached(monkeypatch: pytest.MonkeyPatch):
    from airflow_provider_contacts.transport.sync import new_session

    session = new_session()
    own = session.merge_environment_settings(API, {"https": "http://own.test:1"}, None, None, None)
    assert own["proxies"]["https"] == "http://own.test:1"
    assert "https" not in session.merge_environment_settings(API, {}, None, None, None)["proxies"]


def test_the_environment_is_read_once_per_origin_not_per_request(
    make_hook, requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch
):
    # requests scans every environment variable twice per request to find proxies: a quarter of the
    # client's CPU per upsert, which decides how soon a ten-location burst is out.
    import requests.sessions

    reads = []
    original = requests.sessions.get_environ_proxies

    def counted(url, no_proxy=None):
        reads.append(url)
        return original(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    hook = make_hook()
    requests_mock.get(f"{BASE}/contacts/c1", json={"contact": {"id": "c1"}})
    for _ in range(20):
        assert hook.get_contact("c1") == {"id": "c1"}
    assert len([url for url in reads if "/contacts/" in url]) == 1


def test_a_netrc_entry_never_replaces_the_bearer_token(
    make_hook, requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, tmp_path
):
    # requests puts the Basic credentials of a matching ~/.netrc entry (a "default" entry matches every
    # host) in place of the request's own Authorization header.
    netrc = tmp_path / "netrc"
    netrc.write_text("default login someone password not-for-this-api\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    hook = make_hook()
    requests_mock.get(f"{BASE}/contacts/c1", json={"contact": {"id": "c1"}})
    assert hook.get_contact("c1") == {"id": "c1"}
    assert requests_mock.last_request.headers["Authorization"].startswith("Bearer ")


def test_a_redirect_adds_no_netrc_credentials_and_drops_the_token_to_another_host(
    requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, tmp_path
):
    from airflow_provider_contacts.transport.sync import new_session

    netrc = tmp_path / "netrc"
    netrc.write_text("default login someone password not-for-this-api\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    session = new_session()
    requests_mock.get("https://api.test/old", status_code=307, headers={"Location": "https://api.test/new"})
    requests_mock.get("https://api.test/new", json={})
    requests_mock.get("https://api.test/away", status_code=302, headers={"Location": "https://other.test/x"})
    requests_mock.get("https://other.test/x", json={})
    session.get("https://api.test/old", headers={"Authorization": "Bearer t0ken"})
    assert requests_mock.last_request.url == "https://api.test/new"
    assert requests_mock.last_request.headers["Authorization"] == "Bearer t0ken", "same host: kept, not Basic"
    session.get("https://api.test/away", headers={"Authorization": "Bearer t0ken"})
    assert requests_mock.last_request.url == "https://other.test/x"
    assert "Authorization" not in requests_mock.last_request.headers, "another host: neither token nor netrc"


def test_the_session_sends_its_cookies_and_a_requests_own(requests_mock: rm.Mocker):
    from airflow_provider_contacts.transport.sync import new_session

    session = new_session()
    session.cookies.set("edge", "e1", domain="api.test")  # as a server's Set-Cookie leaves it
    session.cookies.set("elsewhere", "x", domain="other.test")
    requests_mock.get("https://api.test/second", json={})
    session.get("https://api.test/second")
    assert requests_mock.last_request.headers["Cookie"] == "edge=e1"
    session.get("https://api.test/second", cookies={"own": "o1"})
    assert sorted(requests_mock.last_request.headers["Cookie"].split("; ")) == ["edge=e1", "own=o1"]
    assert sorted(session.cookies.keys()) == ["edge", "elsewhere"], "a request's own cookie stays its own"


def test_the_session_headers_merge_as_requests_merges_them(requests_mock: rm.Mocker):
    from airflow_provider_contacts.transport.sync import new_session

    session = new_session()
    requests_mock.get("https://api.test/x", json={})
    session.get("https://api.test/x", headers={"Version": "2021-07-28", "Accept": None}, params={"a": "1"})
    sent = requests_mock.last_request
    assert sent.headers["Version"] == "2021-07-28"
    assert "gzip" in sent.headers["Accept-Encoding"], "the session's defaults still go out"
    assert "Accept" not in sent.headers, "a request's None removes the session's header"
    assert sent.qs == {"a": ["1"]}


def test_a_connection_pools_key_is_worked_out_once_per_origin(monkeypatch: pytest.MonkeyPatch):
    # requests parses the URL and, when the CA bundle is a path, asks the file system whether it is a
    # directory, for every request.
    import os

    import requests
    from requests.adapters import HTTPAdapter

    from airflow_provider_contacts.transport.sync import new_session

    checked: list[str] = []
    isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda path: checked.append(path) or isdir(path))
    adapter = new_session().get_adapter("https://api.test/")
    bundle = "/etc/corporate-ca.pem"
    first = requests.Request("GET", "https://api.test/contacts/c1").prepare()
    host, pool = adapter.build_connection_pool_key_attributes(first, bundle)
    pool["ca_certs"] = "changed by its user"
    later = requests.Request("POST", "https://api.test/contacts/upsert?a=1").prepare()
    assert adapter.build_connection_pool_key_attributes(later, bundle) == (
        HTTPAdapter().build_connection_pool_key_attributes(later, bundle)
    )
    assert checked == [bundle, bundle], "once for the adapter, once for requests' own in the comparison"
    other = requests.Request("GET", "https://other.test:8443/x").prepare()
    host, pool = adapter.build_connection_pool_key_attributes(other, False)
    assert (host, pool["cert_reqs"]) == ({"scheme": "https", "host": "other.test", "port": 8443}, "CERT_NONE")

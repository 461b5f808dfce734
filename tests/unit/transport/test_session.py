"""The transport's session: the environment and a connection pool's key read once per origin, no ``~/.netrc``,
cookies and headers merged as ``requests`` merges them."""

from __future__ import annotations

import pytest
import requests_mock as rm

from tests.unit.conftest import BASE

API = "https://services.leadconnectorhq.com/contacts/?locationId=loc1"


def test_the_session_takes_proxies_and_ca_bundle_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path
):
    from airflow_provider_contacts.transport.session import new_session
    from tests.unit.transport.test_aio import corporate_ca

    bundle = corporate_ca(tmp_path)  # a real certificate: the bundle is loaded as the environment is read
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    settings = new_session().merge_environment_settings(API, {}, None, None, None)
    assert settings["proxies"]["https"] == "http://proxy.test:3128"
    assert settings["verify"] == str(bundle)


def test_no_proxy_still_bypasses_the_proxy(monkeypatch: pytest.MonkeyPatch):
    from airflow_provider_contacts.transport.session import new_session

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "services.leadconnectorhq.com")
    session = new_session()
    assert "https" not in session.merge_environment_settings(API, {}, None, None, None)["proxies"]
    other = session.merge_environment_settings("https://other.test/x", {}, None, None, None)
    assert other["proxies"]["https"] == "http://proxy.test:3128", "each origin is read for itself"


def test_a_request_of_its_own_proxies_is_not_cached(monkeypatch: pytest.MonkeyPatch):
    from airflow_provider_contacts.transport.session import new_session

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
    from airflow_provider_contacts.transport.session import new_session

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
    from airflow_provider_contacts.transport.session import new_session

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
    from airflow_provider_contacts.transport.session import new_session

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

    from airflow_provider_contacts.transport.session import new_session

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

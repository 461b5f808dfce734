"""
New HTTPS connections, against a real TLS server of the test's own CA: every connection of a transport's
session shares one TLS context per CA bundle (``requests`` gives each its own, parsing the whole bundle each
time), trusting exactly what ``requests`` trusts and checking the host name.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from airflow_provider_contacts.transport.direct import DirectPath
from airflow_provider_contacts.transport.session import new_session
from tests.tls import DEADLINE, NO_BUNDLE, Authority, TlsServer, bundles_loaded


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority(tmp_path, "Contacts Test TLS CA")


@pytest.fixture
def server(authority: Authority) -> Iterator[TlsServer]:
    tls = TlsServer(authority)
    thread = threading.Thread(target=tls.serve_forever, daemon=True)
    thread.start()
    try:
        yield tls
    finally:
        tls.shutdown()
        tls.server_close()
        thread.join(DEADLINE)


@pytest.fixture
def trusted(authority: Authority, monkeypatch: pytest.MonkeyPatch) -> Authority:
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.bundle))
    return authority


def _send(sender: DirectPath, url: str) -> int:
    return sender.send("GET", url, params=None, json=None, headers={}, timeout=DEADLINE).status


def _by(path: str, session: requests.Session, url: str) -> int:
    """One GET by ``requests``' own path of the session, or by its direct path."""
    if path == "requests":
        return session.get(url, timeout=DEADLINE).status_code
    return _send(DirectPath(session), url)


def _open_contexts(session: requests.Session, url: str) -> set[int]:
    """The TLS contexts of the connections the session's pool for ``url`` keeps."""
    adapter = session.get_adapter(url)
    contexts = set()
    for pool in list(adapter.poolmanager.pools._container.values()):
        for connection in list(pool.pool.queue):
            if connection is not None and connection.sock is not None:
                contexts.add(id(connection.sock.context))
    return contexts


def test_every_connection_of_both_paths_shares_one_context_that_loads_the_bundle_once(
    server: TlsServer, trusted: Authority, monkeypatch: pytest.MonkeyPatch
):
    url = f"https://localhost:{server.port}/x"
    session = new_session()
    sender = DirectPath(session)
    # requests' own path first, as a token's request goes: its adapter hands the pool the bundle's path.
    assert session.get(url, timeout=DEADLINE).status_code == 200
    server.together = threading.Barrier(
        6
    )  # six requests in flight at once: six connections, five of them new

    def at_once(index: int) -> list[int]:
        together = f"https://localhost:{server.port}/together"
        return [session.get(together, timeout=DEADLINE).status_code, _send(sender, url)]

    answers: list[int] = []
    workers = [threading.Thread(target=lambda i=i: answers.extend(at_once(i))) for i in range(6)]
    with bundles_loaded() as loaded:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(DEADLINE)
    assert answers == [200] * 12
    assert len(loaded) >= 5, "new connections (one thread takes the first request's), each its handshake"
    assert set(loaded) == {NO_BUNDLE}, "no bundle loaded into the context again for a connection"
    assert len(_open_contexts(session, url)) == 1, "one context for every connection"


def test_requests_own_adapter_gives_each_connection_a_context_of_its_own(
    server: TlsServer, trusted: Authority
):
    # What the shared context replaces: each new connection parses the whole bundle again.
    url = f"https://localhost:{server.port}/together"
    plain = requests.Session()
    server.together = threading.Barrier(3)  # three requests in flight at once: three connections

    def at_once() -> None:
        plain.get(url, timeout=DEADLINE)

    workers = [threading.Thread(target=at_once) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(DEADLINE)
    assert len(_open_contexts(plain, url)) == 3


def test_the_shared_context_trusts_only_the_bundle_requests_trusts(
    server: TlsServer, authority: Authority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    url = f"https://localhost:{server.port}/x"
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    other = Authority(tmp_path, "Another CA")
    for bundle, trusted in ((other.bundle, False), (authority.bundle, True)):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        session = new_session()
        for path in ("requests", "direct"):
            if trusted:
                assert _by(path, session, url) == 200
            else:
                with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
                    _by(path, session, url)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        _send(DirectPath(new_session()), url)  # requests' own authorities (certifi) do not know this CA


def test_the_shared_context_checks_the_host_name(server: TlsServer, trusted: Authority):
    # The certificate names localhost only; the same server reached by its address must be refused.
    session = new_session()
    url = f"https://127.0.0.1:{server.port}/x"
    for path in ("requests", "direct"):
        with pytest.raises(requests.exceptions.SSLError, match=r"match|mismatch"):
            _by(path, session, url)


def test_a_client_certificate_keeps_requests_way(trusted: Authority):
    adapter = new_session().get_adapter("https://api.test/")
    probe = requests.Request("GET", "https://api.test/x").prepare()
    _, pool = adapter.build_connection_pool_key_attributes(
        probe, str(trusted.bundle), cert=str(trusted.chain)
    )
    assert "ssl_context" not in pool and pool["ca_certs"] == str(trusted.bundle)
    _, shared = adapter.build_connection_pool_key_attributes(probe, str(trusted.bundle))
    assert "ca_certs" not in shared and shared["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_a_bundle_without_certificates_is_an_error_naming_it_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from airflow_provider_contacts.exceptions import ContactsConfigError

    garbage = tmp_path / "not-a-bundle.pem"
    garbage.write_text("this is no certificate\n")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(garbage))
    session = new_session()
    for path in ("requests", "direct"):
        with pytest.raises(ContactsConfigError, match=f"the CA bundle '{garbage}' cannot be loaded"):
            _by(path, session, "https://localhost:9/x")  # nothing is sent: it fails before connecting

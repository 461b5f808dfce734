"""
The async face's TLS context trusts the same CA bundle as the threads' ``requests``; a bundle that is not
there is an error naming its variable, on both faces.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from airflow_provider_contacts.transport.aio import ca_bundle_context

CORPORATE = "Contacts Test Corporate CA"


def corporate_ca(folder: Path) -> Path:
    """A self-signed CA certificate in a PEM file, as a TLS-inspecting proxy's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CORPORATE)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = folder / "corporate-ca.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def trusted_names(context) -> set[str]:
    return {value for cert in context.get_ca_certs() for rdn in cert["subject"] for key, value in rdn}


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_async_face_trusts_the_bundle_requests_trusts(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv(variable, str(corporate_ca(tmp_path)))
    assert trusted_names(ca_bundle_context()) == {CORPORATE}


def test_without_a_bundle_the_async_face_trusts_the_usual_authorities(monkeypatch: pytest.MonkeyPatch):
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(variable, raising=False)
    names = trusted_names(ca_bundle_context())
    assert CORPORATE not in names and len(names) > 50, "certifi's authorities"


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_bundle_that_is_not_there_is_an_error_naming_the_variable_on_both_faces(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_hook, requests_mock
):
    from airflow_provider_contacts.exceptions import ContactsConfigError

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    missing = tmp_path / "moved-away.pem"
    monkeypatch.setenv(variable, str(missing))
    with pytest.raises(ContactsConfigError, match=f"^{variable} names '{missing}', which does not exist"):
        ca_bundle_context()
    from tests.unit.conftest import BASE

    hook = make_hook()  # an https base URL
    requests_mock.get(f"{BASE}/contacts/c1", json={"contact": {"id": "c1"}})
    with pytest.raises(ContactsConfigError, match=f"^{variable} names '{missing}'"):
        hook.get_contact("c1")
    assert not requests_mock.called, "nothing was sent"


def test_a_plain_http_base_url_does_not_need_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, requests_mock
):
    from airflow_provider_contacts.hooks.contacts import ContactsHook
    from tests.unit.conftest import connection

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "moved-away.pem"))
    local = json.loads(connection())
    local["host"] = "http://127.0.0.1:9999"  # a sandbox's
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_LOCAL", json.dumps(local))
    hook = ContactsHook("contacts_local")
    requests_mock.get("http://127.0.0.1:9999/contacts/c1", json={"contact": {"id": "c1"}})
    assert hook.get_contact("c1") == {"id": "c1"}, "as requests itself: the bundle is read for TLS only"


def test_a_bundle_without_a_certificate_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from airflow_provider_contacts.exceptions import ContactsConfigError

    bundle = tmp_path / "empty.pem"
    bundle.write_text("not a certificate\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    with pytest.raises(ContactsConfigError, match=f"the CA bundle '{bundle}' cannot be loaded"):
        ca_bundle_context()

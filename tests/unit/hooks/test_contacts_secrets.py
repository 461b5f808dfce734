"""No token or client secret in any log line, exception text or repr."""

from __future__ import annotations

import logging

import pytest
import requests
import requests_mock as rm

from airflow_provider_contacts.auth import MemoryTokenStore
from airflow_provider_contacts.exceptions import ContactsError
from tests.unit.conftest import BASE, CLIENT_SECRET, PRIVATE_TOKEN, SEED_REFRESH_TOKEN, token_answer

SECRETS = [
    CLIENT_SECRET,
    SEED_REFRESH_TOKEN,
    PRIVATE_TOKEN,
    *(token_answer(n)[key] for n in (1, 2) for key in ("access_token", "refresh_token")),
]


def test_no_secret_reaches_logs_exceptions_or_reprs(make_hook, requests_mock: rm.Mocker, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    store = MemoryTokenStore()
    hook = make_hook(auth_type="oauth", token_store=store, max_retries=4)
    texts: list[str] = []
    requests_mock.post(f"{BASE}/oauth/token", [{"json": token_answer(1)}, {"json": token_answer(2)}])
    requests_mock.get(
        f"{BASE}/contacts/c1",
        [
            {"status_code": 401, "json": {"message": "Invalid token: access token is invalid"}},
            {"status_code": 503, "json": {"message": "unavailable"}},
            {"exc": requests.exceptions.ConnectionError("reset")},
            {"json": {"contact": {"id": "c1"}}},
        ],
    )
    hook.get_contact("c1")
    failures = [
        (f"{BASE}/contacts/c2", {"status_code": 422, "json": {"message": ["email must be an email"]}}),
        (f"{BASE}/contacts/c3", {"status_code": 500, "json": {"message": "boom"}}),
        (f"{BASE}/contacts/c4", {"exc": requests.exceptions.ReadTimeout("slow")}),
    ]
    for url, response in failures:
        requests_mock.get(url, [response])
        with pytest.raises(ContactsError) as caught:
            hook.get_contact(url.rsplit("/", 1)[1])
        texts += [str(caught.value), repr(caught.value)]
    requests_mock.post(f"{BASE}/oauth/token", status_code=400, json={"error": "invalid_grant"})
    hook.auth._rotation_wait = 0  # no concurrent writer to wait for here
    with pytest.raises(ContactsError) as caught:
        hook.auth.refresh(stale_access_token=token_answer(2)["access_token"])
    texts += [str(caught.value), repr(caught.value)]
    texts += [
        repr(hook),
        repr(hook.auth),
        repr(store),
        repr(hook.settings),
        str(hook.refresh_access_token.__doc__),
    ]
    texts += [caplog.text, *(record.getMessage() for record in caplog.records)]
    out, err = capfd.readouterr()
    texts += [out, err]
    assert "Retrying" in caplog.text + out + err, "the logs were captured (the retry was logged)"
    leaked = [secret for secret in SECRETS for text in texts if secret in text]
    assert leaked == []


def test_private_token_never_reaches_errors(make_hook, requests_mock: rm.Mocker):
    hook = make_hook()
    requests_mock.get(f"{BASE}/contacts/c1", status_code=401, json={"message": "Invalid token"})
    with pytest.raises(ContactsError) as caught:
        hook.get_contact("c1")
    assert PRIVATE_TOKEN not in str(caught.value) and PRIVATE_TOKEN not in repr(hook.auth)
    assert "Private Integrations" in str(caught.value)


def test_secrets_are_registered_with_the_airflow_masker(make_hook, requests_mock: rm.Mocker):
    from airflow.sdk._shared.secrets_masker import redact

    hook = make_hook(auth_type="oauth", token_store=MemoryTokenStore())
    requests_mock.post(f"{BASE}/oauth/token", json=token_answer(1))
    hook.auth.access_token()
    for secret in (CLIENT_SECRET, token_answer(1)["access_token"], token_answer(1)["refresh_token"]):
        assert secret not in str(redact(f"value={secret}"))

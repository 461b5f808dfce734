"""
The connection Test never sends a stored access token to a host other than the one that issued it (issue 22,
item 4): a user who may test connections could otherwise point a copy of the deployment's connection at a
server of theirs and receive the deployment's token.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest
import requests_mock as rm

from airflow_provider_contacts.auth import FileTokenStore, fingerprint
from airflow_provider_contacts.hooks.contacts import ContactsHook
from tests.unit.conftest import BASE, SEED_REFRESH_TOKEN, connection, token_answer

ACCESS_TOKEN = token_answer(1)["access_token"]


def _tested(monkeypatch: pytest.MonkeyPatch, host: str, token_file: Path) -> tuple[bool, str]:
    """What Airflow's Test does: the connection's fields (host replaced) under a random connection id."""
    fields = json.loads(connection(auth_type="oauth", token_file=str(token_file)))
    fields["host"] = host
    random_id = f"t{secrets.token_hex(4)}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{random_id.upper()}", json.dumps(fields))
    return ContactsHook(random_id).test_connection()


def _deployment_refreshed(make_hook, requests_mock: rm.Mocker, token_file: Path) -> None:
    """The deployment's own run refreshed its token at BASE and saved it in the token file."""
    requests_mock.post(f"{BASE}/oauth/token", json=token_answer(1))
    make_hook(auth_type="oauth", token_file=str(token_file)).refresh_access_token()
    assert FileTokenStore(token_file).load()["access_token"] == ACCESS_TOKEN  # type: ignore[index]


def _answer_as(requests_mock: rm.Mocker, host: str) -> None:
    requests_mock.post(f"{host}/oauth/token", status_code=400, json={"error": "invalid_grant"})
    requests_mock.post(f"{host}/contacts/search", json={"contacts": [], "total": 7})


def _tokens_sent(requests_mock: rm.Mocker) -> list[str]:
    return [
        f"{r.scheme}://{r.netloc}" for r in requests_mock.request_history if ACCESS_TOKEN in str(r.headers)
    ]


@pytest.mark.parametrize(
    "host", ["https://evil.test", "https://api.test:8443", "https://api.test.evil.test", "http://127.0.0.1:9"]
)
def test_the_test_refuses_to_send_a_stored_token_to_another_host(
    host: str, make_hook, requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token_file = tmp_path / "tokens.json"
    _deployment_refreshed(make_hook, requests_mock, token_file)
    _answer_as(requests_mock, host)
    ok, message = _tested(monkeypatch, host, token_file)
    assert _tokens_sent(requests_mock) == [], "the stored token went to the connection's new host"
    assert not ok, message
    assert "issued by https://api.test" in message and "not sent" in message, message
    assert ACCESS_TOKEN not in message and token_answer(1)["refresh_token"] not in message


def test_the_test_still_uses_the_token_at_the_host_that_issued_it(
    make_hook, requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token_file = tmp_path / "tokens.json"
    _deployment_refreshed(make_hook, requests_mock, token_file)
    _answer_as(requests_mock, BASE)
    ok, message = _tested(monkeypatch, f"{BASE}/", token_file)
    assert ok and "was accepted: a search of the location sees 7 contacts" in message, message
    assert _tokens_sent(requests_mock) == [BASE]


def test_a_stored_token_saved_without_its_host_is_not_used_by_the_test(
    requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token_file = tmp_path / "tokens.json"
    old = {  # what earlier versions saved: no issuing host
        "access_token": ACCESS_TOKEN,
        "refresh_token": "refresh-token-0001-abcdef",
        "expires_at": time.time() + 3600,
        "expires_in": 86399,
        "seed": fingerprint(SEED_REFRESH_TOKEN),
    }
    FileTokenStore(token_file).save(old)
    _answer_as(requests_mock, BASE)
    ok, message = _tested(monkeypatch, BASE, token_file)
    assert _tokens_sent(requests_mock) == []
    assert ok, message
    assert "saved without the host that issued it" in message and "not used" in message, message


def test_saved_tokens_keep_their_issuing_host(make_hook, requests_mock: rm.Mocker, tmp_path: Path) -> None:
    token_file = tmp_path / "tokens.json"
    _deployment_refreshed(make_hook, requests_mock, token_file)
    assert FileTokenStore(token_file).load()["issuer"] == BASE  # type: ignore[index]

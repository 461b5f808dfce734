"""
The connection's Test against the sandbox in its own process, as Airflow runs it: under a random connection
id, with the saved connection's fields (issue 10, finding 2). It must not rotate or consume the refresh
token, must leave no Variable or file behind, and must say what it checked without the random id.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


def airflow_style_test(monkeypatch: pytest.MonkeyPatch, connection: dict[str, Any]) -> tuple[bool, str, str]:
    """What ``POST /api/v2/connections/test`` does: the fields under a random id in the environment."""
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    random_id = secrets.token_hex(4)
    monkeypatch.setenv(f"AIRFLOW_CONN_{random_id.upper()}", json.dumps(connection))
    ok, message = ContactsHook(contacts_conn_id=random_id).test_connection()
    return ok, message, random_id


def variable_keys() -> set[str]:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        return {key for (key,) in session.query(Variable.key)}


def test_oauth_test_leaves_the_refresh_token_and_the_store_alone(
    airflow_db: Path, sandbox_process: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_contacts.auth import MemoryTokenStore
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    connection = sandbox_process.oauth_connection()
    before = variable_keys()
    sandbox_process.reset_stats()
    ok, message, random_id = airflow_style_test(monkeypatch, connection)
    assert ok, message
    assert random_id not in message
    for field in ("host", "login", "password", "extra.refresh_token", "extra.location_id", "extra.scopes"):
        assert field in message
    assert "knows the client id and secret" in message
    assert "Not checked: the refresh token" in message
    stats = sandbox_process.stats()
    assert stats["token_refreshes"] == 0 and stats["rejected_refresh_tokens"] == 0, stats
    assert variable_keys() == before  # no contacts_token__<random id>
    # The connection's own runs still start from the refresh token: it was not consumed.
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_SAVED", json.dumps(connection))
    hook = ContactsHook("contacts_saved", token_store=MemoryTokenStore())
    assert next(iter(hook.search_contacts(page_limit=1)))["id"]
    assert sandbox_process.stats()["rejected_refresh_tokens"] == 0


def test_oauth_test_uses_an_unexpired_stored_token_read_only(
    airflow_db: Path, sandbox_process: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models.variable import Variable

    from airflow_provider_contacts.auth import VariableTokenStore
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    key = f"contacts_token__stored_{secrets.token_hex(3)}"
    connection = sandbox_process.oauth_connection()
    connection["extra"]["token_variable"] = key
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_STORED", json.dumps(connection))
    try:
        ContactsHook("contacts_stored").refresh_access_token()  # a run filled the store
        saved = Variable.get(key)
        sandbox_process.reset_stats()
        ok, message, _ = airflow_style_test(monkeypatch, connection)
        assert ok, message
        assert f"unexpired access token stored in the Variable {key!r}" in message
        assert "sees 12 contacts" in message
        assert Variable.get(key) == saved  # read only
        assert sandbox_process.stats()["token_refreshes"] == 0
        expired = {**json.loads(saved), "expires_at": 0}
        VariableTokenStore(key).save(expired)
        ok, message, _ = airflow_style_test(monkeypatch, connection)
        assert ok and "has expired; not used" in message, message
        assert sandbox_process.stats()["token_refreshes"] == 0
    finally:
        Variable.delete(key)


def test_oauth_test_names_the_fields_that_are_wrong(
    sandbox_process: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = sandbox_process.oauth_connection()
    connection["password"] = "not-the-secret"
    ok, message, random_id = airflow_style_test(monkeypatch, connection)
    assert not ok and "refused the client id or secret (login, password)" in message, message
    assert random_id not in message
    del connection["extra"]["refresh_token"]
    ok, message, random_id = airflow_style_test(monkeypatch, connection)
    assert not ok and "extra.refresh_token is empty" in message and random_id not in message
    connection["host"] = "ftp://example.test"
    ok, message, random_id = airflow_style_test(monkeypatch, connection)
    assert not ok and "host 'ftp://example.test'" in message and random_id not in message


def test_private_token_test_does_a_real_read(
    sandbox_process: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok, message, random_id = airflow_style_test(monkeypatch, sandbox_process.private_connection())
    assert ok and "The token was accepted: a search of the location sees 12 contacts" in message, message
    assert random_id not in message
    bad = {**sandbox_process.private_connection(), "password": "pit-wrong"}
    ok, message, _ = airflow_style_test(monkeypatch, bad)
    assert not ok and "private integration token was refused" in message, message

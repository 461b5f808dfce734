"""OAuth: expiring access tokens, rotating single-use refresh tokens, client checks, scopes in the token."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from airflow_provider_contacts.sandbox import SandboxHandle

pytestmark = pytest.mark.integration


def _token(sb: SandboxHandle, **form: str) -> requests.Response:
    base = {"client_id": sb.client_id, "client_secret": sb.client_secret, "user_type": "Location"}
    return requests.post(f"{sb.base_url}/oauth/token", data={**base, **form}, timeout=10)


def _get(sb: SandboxHandle, token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Version": "2021-07-28"}
    params = {"locationId": sb.location_id, "limit": 1}
    return requests.get(f"{sb.base_url}/contacts/", params=params, headers=headers, timeout=10)


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``condition`` until it returns something truthy (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_refresh_rotates_and_old_refresh_token_is_rejected(
    sandbox_factory: Callable[..., SandboxHandle],
) -> None:
    sb = sandbox_factory(access_token_ttl=0.3)
    first_refresh = sb.connection["extra"]["refresh_token"]
    answer = _token(sb, grant_type="refresh_token", refresh_token=first_refresh)
    assert answer.status_code == 200
    tokens = answer.json()
    assert {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "userType",
        "locationId",
        "companyId",
        "userId",
    } <= set(tokens)
    assert tokens["scope"] == "contacts.readonly contacts.write"
    assert tokens["locationId"] == sb.location_id
    assert tokens["refresh_token"] != first_refresh
    assert _get(sb, tokens["access_token"]).status_code == 200

    # The access token expires (TTL 0.3 s): 401 with the API's message.
    def expired_answer() -> list[requests.Response]:
        response = _get(sb, tokens["access_token"])
        return [response] if response.status_code == 401 else []

    expired = wait_until(expired_answer)[0]
    assert expired.json() == {
        "statusCode": 401,
        "message": "Invalid token: access token is invalid",
        "error": "Unauthorized",
        "traceId": expired.json()["traceId"],
    }

    reused = _token(sb, grant_type="refresh_token", refresh_token=first_refresh)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert "error_description" in reused.json()

    rotated = _token(sb, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert rotated.status_code == 200
    assert _get(sb, rotated.json()["access_token"]).status_code == 200
    stats = sb.stats()
    assert stats["token_refreshes"] == 2
    assert stats["rejected_refresh_tokens"] == 1


def test_client_credentials_and_grant_types_are_checked(sandbox: SandboxHandle) -> None:
    bad = _token(
        sandbox, grant_type="refresh_token", refresh_token=sandbox.mint_refresh_token(), client_secret="nope"
    )
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client"
    assert _token(sandbox, grant_type="password").json()["error"] == "unsupported_grant_type"
    code = sandbox.mint_code()
    assert _token(sandbox, grant_type="authorization_code", code=code).status_code == 200
    assert _token(sandbox, grant_type="authorization_code", code=code).json()["error"] == "invalid_grant"


def test_read_only_token_carries_its_scope(sandbox: SandboxHandle) -> None:
    answer = _token(
        sandbox, grant_type="refresh_token", refresh_token=sandbox.mint_refresh_token("contacts.readonly")
    )
    assert answer.json()["scope"] == "contacts.readonly"
    connection = sandbox.oauth_connection("contacts.readonly")
    assert connection["extra"]["scopes"] == "contacts.readonly"

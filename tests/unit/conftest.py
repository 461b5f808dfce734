from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_contacts.auth import MemoryTokenStore
from airflow_provider_contacts.hooks.contacts import ContactsHook

BASE = "https://api.test"
PRIVATE_TOKEN = "pit-very-secret-token-0001"
CLIENT_SECRET = "client-secret-value-0001"
SEED_REFRESH_TOKEN = "refresh-token-seed-0001"


def connection(**extra: Any) -> str:
    """A ``contacts`` connection as AIRFLOW_CONN_* JSON; private token unless ``auth_type`` says otherwise."""
    auth_type = extra.pop("auth_type", "private_token")
    fields = {
        "location_id": "loc1",
        "auth_type": auth_type,
        "scopes": "contacts.readonly contacts.write",
        "retry_backoff": 0,
        **extra,
    }
    if auth_type == "oauth":
        fields.setdefault("refresh_token", SEED_REFRESH_TOKEN)
        return json.dumps(
            {
                "conn_type": "contacts",
                "host": BASE,
                "login": "client-id",
                "password": CLIENT_SECRET,
                "extra": fields,
            }
        )
    return json.dumps({"conn_type": "contacts", "host": BASE, "password": PRIVATE_TOKEN, "extra": fields})


@pytest.fixture
def make_hook(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ContactsHook]:
    """Build a hook on a fresh connection ``contacts_test`` with the given extra."""

    def build(token_store: MemoryTokenStore | None = None, **extra: Any) -> ContactsHook:
        monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_TEST", connection(**extra))
        return ContactsHook("contacts_test", token_store=token_store)

    return build


@pytest.fixture
def hook(make_hook: Callable[..., ContactsHook]) -> ContactsHook:
    return make_hook()


def token_answer(n: int, expires_in: int = 86399, scope: str = "contacts.readonly contacts.write") -> dict:
    return {
        "access_token": f"access-token-{n:04d}-abcdef",
        "refresh_token": f"refresh-token-{n:04d}-abcdef",
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
        "userType": "Location",
        "locationId": "loc1",
    }

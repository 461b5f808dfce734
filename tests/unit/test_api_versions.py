"""The per-version differences of the Contacts API (api_versions.py) and v3's error envelope."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import requests
import requests_mock as rm

from airflow_provider_contacts.api_versions import (
    API_VERSIONS,
    for_connection,
    is_invalid_grant,
    token_answer,
)
from airflow_provider_contacts.auth import MemoryTokenStore, OAuthTokenProvider
from airflow_provider_contacts.exceptions import ContactsConfigError, api_messages

V2, V3 = API_VERSIONS["2021-07-28"], API_VERSIONS["v3"]


@pytest.mark.parametrize(
    ("api", "value_key", "channel"),
    [(V2, "field_value", "SMS"), (V3, "fieldValue", "sms")],
)
def test_contact_body_uses_the_version_names(api, value_key, channel) -> None:
    body = api.contact_body(
        {
            "email": "a@x.io",
            "customFields": [{"id": "f1", "field_value": "red"}, {"key": "k", "value": 3}, {"id": "f2"}],
            "dndSettings": {"Sms": {"status": "active"}, "whatsapp": {"status": "inactive"}},
        }
    )
    assert body["email"] == "a@x.io"
    assert body["customFields"] == [{"id": "f1", value_key: "red"}, {"key": "k", value_key: 3}, {"id": "f2"}]
    whatsapp = "whatsApp" if api is V3 else "WhatsApp"
    assert body["dndSettings"] == {channel: {"status": "active"}, whatsapp: {"status": "inactive"}}


def test_an_unknown_version_is_refused_naming_the_field() -> None:
    assert for_connection("c", " v3 ") is V3
    with pytest.raises(ContactsConfigError, match=r"connection 'c': extra.api_version must be one of"):
        for_connection("c", "2023-02-21")


def test_paths_and_list_endpoint_differ() -> None:
    assert (V2.remove_all_campaigns, V3.remove_all_campaigns) == ("removeAll", "remove-all")
    assert V2.lists_contacts and not V3.lists_contacts


@pytest.mark.parametrize(
    "answer",
    [{"succeded": True, "traceId": "t"}, {"succeeded": True}, {"succeeded": True, "succeded": True}],
)
def test_outcome_carries_both_spellings_and_no_trace(answer) -> None:
    assert V3.outcome(answer) == {"succeeded": True, "succeded": True}


def test_outcome_leaves_other_answers_alone() -> None:
    assert V2.outcome({"followers": ["u"], "traceId": "t"}) == {"followers": ["u"]}


def test_token_request_and_answer_names() -> None:
    fields = {"client_id": "c", "grant_type": "refresh_token", "refresh_token": "r", "user_type": "Location"}
    assert V2.token_request(fields) == fields
    assert V3.token_request(fields) == {
        "clientId": "c",
        "grantType": "refresh_token",
        "refreshToken": "r",
        "userType": "Location",
    }
    assert token_answer({"accessToken": "a", "refreshToken": "r", "expiresIn": 5, "scope": "s"}) == {
        "access_token": "a",
        "refresh_token": "r",
        "expires_in": 5,
        "scope": "s",
    }


def test_invalid_grant_in_either_version() -> None:
    assert is_invalid_grant({"error": "invalid_grant"}, "The refresh token has already been used")
    assert is_invalid_grant({"statusCode": 400}, "Invalid grant: refresh token is invalid")
    assert not is_invalid_grant({"statusCode": 400}, "Location is not active")


def test_aip_error_envelope_gives_code_message_and_resolution() -> None:
    body = {
        "error": {
            "code": "RESOURCE_NOT_FOUND",
            "message": "The requested App 'abc' was not found.",
            "details": {"resource": "App"},
            "resolution": "Verify the App exists.",
        }
    }
    assert api_messages(body, "Not Found") == [
        "RESOURCE_NOT_FOUND: The requested App 'abc' was not found. (Verify the App exists.)"
    ]
    assert api_messages({"error": "invalid_grant"}, None) == ["invalid_grant"]


def test_v3_token_exchange_is_camel_case_with_the_version_header(requests_mock: rm.Mocker) -> None:
    requests_mock.post(
        "https://api.test/oauth/token",
        json={"accessToken": "at-2", "refreshToken": "rt-2", "expiresIn": 86399, "userType": "Location"},
    )
    provider = OAuthTokenProvider(
        token_url="https://api.test/oauth/token",
        client_id="cid",
        client_secret="secret",
        seed_refresh_token="rt-1",
        store=MemoryTokenStore(),
        session=requests.Session(),
        api=V3,
    )
    assert provider.access_token() == "at-2"
    sent = requests_mock.request_history[0]
    assert sent.headers["Version"] == "v3"
    assert parse_qs(sent.text) == {
        "clientId": ["cid"],
        "clientSecret": ["secret"],
        "grantType": ["refresh_token"],
        "refreshToken": ["rt-1"],
        "userType": ["Location"],
    }
    assert provider.store.load()["refresh_token"] == "rt-2"

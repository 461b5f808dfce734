"""The one request path: retry rules, typed errors, the read-only guard and the connection's checks."""

from __future__ import annotations

import pickle

import pytest
import requests
import requests_mock as rm

from airflow_provider_contacts.auth import MemoryTokenStore
from airflow_provider_contacts.exceptions import (
    ContactsApiError,
    ContactsAuthError,
    ContactsConfigError,
    ContactsNotFoundError,
    ContactsPermissionError,
    ContactsRateLimitError,
    ContactsValidationError,
)
from tests.unit.conftest import BASE, token_answer

GET_URL = f"{BASE}/contacts/c1"
OK = {"json": {"contact": {"id": "c1"}}}


@pytest.mark.parametrize(
    ("status", "body", "error_class"),
    [
        (
            400,
            {"statusCode": 400, "message": "Invalid field contact_name", "traceId": "tr-400"},
            ContactsValidationError,
        ),
        (
            403,
            {"statusCode": 403, "message": "The token does not have access to this location."},
            ContactsPermissionError,
        ),
        (404, {"statusCode": 404, "message": "Contact not found"}, ContactsNotFoundError),
        (
            422,
            {"statusCode": 422, "message": ["property gender should not exist", "email must be an email"]},
            ContactsValidationError,
        ),
    ],
)
def test_client_errors_are_typed_carry_their_context_and_are_not_retried(
    hook, requests_mock: rm.Mocker, status, body, error_class
):
    requests_mock.put(GET_URL, status_code=status, json=body)
    with pytest.raises(error_class) as caught:
        hook.update_contact("c1", {"firstName": "x"})
    error = caught.value
    assert requests_mock.call_count == 1
    assert error.status == status
    assert (error.method, error.path) == ("PUT", "/contacts/c1")
    expected_messages = body["message"] if isinstance(body["message"], list) else [body["message"]]
    assert error.messages == expected_messages
    assert all(message in str(error) for message in expected_messages)
    if "traceId" in body:
        assert error.trace_id == "tr-400" and "tr-400" in str(error)


def test_api_errors_survive_pickling_with_their_fields():
    error = ContactsValidationError(
        "bad", status=422, method="POST", path="/contacts/", trace_id="t", messages=["a", "b"]
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ContactsValidationError
    assert (copy.status, copy.method, copy.path, copy.trace_id, copy.messages) == (
        422,
        "POST",
        "/contacts/",
        "t",
        ["a", "b"],
    )
    assert str(copy) == str(error)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_until_success(hook, requests_mock: rm.Mocker, status):
    requests_mock.get(
        GET_URL, [{"status_code": status, "json": {"message": "boom"}}, {"status_code": status}, OK]
    )
    assert hook.get_contact("c1") == {"id": "c1"}
    assert requests_mock.call_count == 3


def test_server_errors_exhaust_the_retry_budget_then_raise_the_last_error(
    make_hook, requests_mock: rm.Mocker
):
    hook = make_hook(max_retries=2)
    requests_mock.get(GET_URL, status_code=502, json={"message": "bad gateway", "traceId": "tr-502"})
    with pytest.raises(ContactsApiError) as caught:
        hook.get_contact("c1")
    assert requests_mock.call_count == 3
    assert caught.value.status == 502 and caught.value.trace_id == "tr-502"


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectionError("reset by peer"),
        requests.exceptions.ReadTimeout("slow"),
        requests.exceptions.ChunkedEncodingError("cut"),
    ],
)
def test_lost_answers_are_retried_for_idempotent_calls(hook, requests_mock: rm.Mocker, failure):
    requests_mock.get(GET_URL, [{"exc": failure}, OK])
    assert hook.get_contact("c1") == {"id": "c1"}
    assert requests_mock.call_count == 2


@pytest.mark.parametrize(
    ("call", "url"),
    [
        (lambda h: h.create_contact({"email": "a@b.co"}), f"{BASE}/contacts/"),
        (lambda h: h.create_task("c1", "Call", "2026-01-01T00:00:00.000Z"), f"{BASE}/contacts/c1/tasks"),
        (lambda h: h.create_note("c1", "text"), f"{BASE}/contacts/c1/notes"),
    ],
    ids=["contact", "task", "note"],
)
def test_a_create_whose_answer_was_lost_is_not_sent_again(hook, requests_mock: rm.Mocker, call, url):
    requests_mock.post(
        url, [{"exc": requests.exceptions.ReadTimeout("slow")}, {"status_code": 201, "json": {}}]
    )
    with pytest.raises(ContactsApiError, match="not idempotent and may have been applied"):
        call(hook)
    assert requests_mock.call_count == 1


def test_a_create_whose_server_failed_is_not_sent_again(hook, requests_mock: rm.Mocker):
    requests_mock.post(
        f"{BASE}/contacts/",
        [{"status_code": 500, "json": {"message": "oops"}}, {"status_code": 201, "json": {}}],
    )
    with pytest.raises(ContactsApiError) as caught:
        hook.create_contact({"email": "a@b.co"})
    assert caught.value.status == 500
    assert requests_mock.call_count == 1


def test_a_create_that_never_connected_or_was_rate_limited_is_retried(hook, requests_mock: rm.Mocker):
    requests_mock.post(
        f"{BASE}/contacts/",
        [
            {"exc": requests.exceptions.ConnectTimeout("no route")},
            {"status_code": 429, "headers": {"Retry-After": "0"}, "json": {"message": "Too many requests"}},
            {"status_code": 201, "json": {"contact": {"id": "new"}}},
        ],
    )
    assert hook.create_contact({"email": "a@b.co"}) == {"id": "new"}
    assert requests_mock.call_count == 3


EXISTING = {"json": {"contact": {"id": "c1"}, "new": False}}


@pytest.mark.parametrize(
    ("answers", "new", "maybe_new"),
    [
        ([EXISTING], False, False),
        ([{"exc": requests.exceptions.ReadTimeout("slow")}, EXISTING], False, True),
        ([{"status_code": 502, "json": {"message": "bad gateway"}}, EXISTING], False, True),
        (
            [
                {"exc": requests.exceptions.ReadTimeout("slow")},
                {"json": {"contact": {"id": "c1"}, "new": True}},
            ],
            True,
            False,
        ),
        ([{"exc": requests.exceptions.ConnectTimeout("no route")}, EXISTING], False, False),
        (
            [
                {"status_code": 429, "headers": {"Retry-After": "0"}, "json": {"message": "slow down"}},
                EXISTING,
            ],
            False,
            False,
        ),
    ],
    ids=[
        "existing",
        "after-a-lost-answer",
        "after-a-5xx",
        "new-after-a-lost-answer",
        "never-sent",
        "after-a-429",
    ],
)
def test_an_upsert_says_when_a_failed_attempt_may_have_created_the_contact(
    hook, requests_mock: rm.Mocker, answers, new, maybe_new
):
    requests_mock.post(f"{BASE}/contacts/upsert", answers)
    answer = hook.upsert_contact({"email": "a@b.co"})
    assert (answer["new"], answer["maybe_new"]) == (new, maybe_new)
    assert requests_mock.call_count == len(answers)


def test_429_pauses_the_shared_limiter_for_retry_after(hook, requests_mock: rm.Mocker, monkeypatch):
    pauses: list[float] = []
    monkeypatch.setattr(hook.limiter, "pause", pauses.append)
    requests_mock.get(GET_URL, [{"status_code": 429, "headers": {"Retry-After": "7"}, "json": {}}, OK])
    assert hook.get_contact("c1") == {"id": "c1"}
    assert pauses == [7.0]


def test_429_without_retry_after_waits_for_the_advertised_interval(
    hook, requests_mock: rm.Mocker, monkeypatch
):
    pauses: list[float] = []
    monkeypatch.setattr(hook.limiter, "pause", pauses.append)
    # No X-RateLimit-Remaining: a 0 there would also (rightly) hold the retry for the 20 s window.
    headers = {"X-RateLimit-Interval-Milliseconds": "20000", "X-RateLimit-Max": "100"}
    requests_mock.get(GET_URL, [{"status_code": 429, "headers": headers, "json": {}}, OK])
    hook.get_contact("c1")
    assert pauses and set(pauses) == {20.0}


def test_rate_limit_that_never_clears_raises_a_rate_limit_error(make_hook, requests_mock: rm.Mocker):
    hook = make_hook(max_retries=1)
    requests_mock.get(
        GET_URL, status_code=429, headers={"Retry-After": "0"}, json={"message": "Too many requests"}
    )
    with pytest.raises(ContactsRateLimitError):
        hook.get_contact("c1")
    assert requests_mock.call_count == 2


def test_exhausted_daily_budget_fails_fast_without_retrying(hook, requests_mock: rm.Mocker):
    requests_mock.get(GET_URL, status_code=429, headers={"X-RateLimit-Daily-Remaining": "0"}, json={})
    with pytest.raises(ContactsRateLimitError, match="daily"):
        hook.get_contact("c1")
    assert requests_mock.call_count == 1
    with pytest.raises(ContactsRateLimitError, match="daily"):
        hook.get_contact("c1")
    assert requests_mock.call_count == 1, "the limiter refuses further calls once the day's budget is gone"


def test_read_only_connection_refuses_writes_before_sending_anything(make_hook, requests_mock: rm.Mocker):
    hook = make_hook(scopes="contacts.readonly")
    for write in (
        lambda: hook.create_contact({"email": "a@b.co"}),
        lambda: hook.add_tags("c1", ["x"]),
        lambda: hook.delete_contact("c1"),
        lambda: hook.request("PUT", "/contacts/c1", json={}),
    ):
        with pytest.raises(ContactsPermissionError, match=r"read-only.*contacts\.write"):
            write()
    assert requests_mock.call_count == 0
    requests_mock.post(f"{BASE}/contacts/search", json={"contacts": [], "total": 0})
    assert list(hook.search_contacts()) == [], "search is a read even though it is a POST"


def test_default_scopes_are_read_only(make_hook, requests_mock: rm.Mocker):
    hook = make_hook(scopes=None)
    with pytest.raises(ContactsPermissionError):
        hook.upsert_contact({"email": "a@b.co"})
    assert requests_mock.call_count == 0


def test_write_refused_when_the_token_was_granted_read_only(make_hook, requests_mock: rm.Mocker):
    hook = make_hook(auth_type="oauth", token_store=MemoryTokenStore())
    requests_mock.post(f"{BASE}/oauth/token", json=token_answer(1, scope="contacts.readonly"))
    with pytest.raises(ContactsPermissionError, match=r"granted only contacts\.readonly"):
        hook.add_tags("c1", ["x"])
    assert [r.path for r in requests_mock.request_history] == ["/oauth/token"]


def test_scope_401_is_a_permission_error_and_not_a_refresh_loop(make_hook, requests_mock: rm.Mocker):
    hook = make_hook(auth_type="oauth", token_store=MemoryTokenStore())
    requests_mock.post(f"{BASE}/oauth/token", json=token_answer(1))
    requests_mock.post(
        f"{BASE}/contacts/c1/tags",
        status_code=401,
        json={"message": "The token is not authorized for this scope."},
    )
    with pytest.raises(ContactsPermissionError, match="scope"):
        hook.add_tags("c1", ["x"])
    assert requests_mock.call_count == 2


def test_a_non_json_success_body_is_a_clear_error(hook, requests_mock: rm.Mocker):
    requests_mock.get(GET_URL, text="<html>proxy</html>")
    with pytest.raises(ContactsApiError, match="not JSON"):
        hook.get_contact("c1")


@pytest.mark.parametrize(
    ("host", "extra", "message"),
    [
        ("http://api.example.com", {}, "http:// to a non-loopback host"),
        ("ftp://api.example.com", {}, "is not an http"),
        ("https://api.test", {"auth_type": "basic"}, "extra.auth_type must be"),
        ("https://api.test", {"timeout": "soon"}, "extra.timeout must be a number"),
        (
            "https://api.test",
            {"requests_per_10s": 0},
            "extra.requests_per_10s must be a whole number of at least 1",
        ),
        ("https://api.test", {"max_retries": -1}, "extra.max_retries must be a whole number of at least 0"),
        # Nothing silently coerced: 2.5 retries was read as 2.
        ("https://api.test", {"max_retries": "2.5"}, "extra.max_retries must be a whole number"),
    ],
)
def test_bad_connection_settings_name_the_field(monkeypatch, requests_mock: rm.Mocker, host, extra, message):
    import json

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    conn = {
        "conn_type": "contacts",
        "host": host,
        "password": "pit-token-123456",
        "extra": {"auth_type": "private_token", **extra},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_BAD", json.dumps(conn))
    with pytest.raises(ContactsConfigError, match="contacts_bad") as caught:
        ContactsHook("contacts_bad").get_contact("c1")
    assert message in str(caught.value)
    assert requests_mock.call_count == 0


def test_missing_credentials_are_named(monkeypatch):
    import json

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_CONTACTS_BAD", json.dumps({"conn_type": "contacts", "extra": {"auth_type": "oauth"}})
    )
    with pytest.raises(ContactsConfigError, match="password is empty; it must hold the OAuth client secret"):
        ContactsHook("contacts_bad").get_contact("c1")
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONTACTS_BAD",
        json.dumps({"conn_type": "contacts", "password": "s3cret-value", "extra": {}}),
    )
    with pytest.raises(ContactsConfigError, match="login must hold the OAuth client id"):
        ContactsHook("contacts_bad").get_contact("c1")


def test_loopback_http_is_allowed_for_the_sandbox(monkeypatch, requests_mock: rm.Mocker):
    import json

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    conn = {
        "conn_type": "contacts",
        "host": "http://127.0.0.1:8765",
        "password": "pit-token-123456",
        "extra": {"auth_type": "private_token"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_LOCAL", json.dumps(conn))
    requests_mock.get("http://127.0.0.1:8765/contacts/c1", json={"contact": {"id": "c1"}})
    assert ContactsHook("contacts_local").get_contact("c1") == {"id": "c1"}


def test_hook_reads_no_connection_until_first_use(monkeypatch):
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    monkeypatch.delenv("AIRFLOW_CONN_CONTACTS_NOWHERE", raising=False)
    hook = ContactsHook("contacts_nowhere")  # would raise if it looked the connection up here
    assert repr(hook) == "ContactsHook(contacts_conn_id='contacts_nowhere')"


def test_auth_error_after_refresh_is_typed(make_hook, requests_mock: rm.Mocker):
    hook = make_hook(auth_type="oauth", token_store=MemoryTokenStore())
    requests_mock.post(f"{BASE}/oauth/token", [{"json": token_answer(1)}, {"json": token_answer(2)}])
    requests_mock.get(GET_URL, status_code=401, json={"message": "Invalid token: access token is invalid"})
    with pytest.raises(ContactsAuthError, match="access token is invalid"):
        hook.get_contact("c1")
    token_calls = [r for r in requests_mock.request_history if r.path == "/oauth/token"]
    assert len(token_calls) == 2, "one refresh on the first 401, none after the second"


def test_requests_sent_counts_every_attempt_including_retries(hook, requests_mock: rm.Mocker):
    requests_mock.get(GET_URL, [{"status_code": 503, "json": {}}, OK])
    hook.get_contact("c1")
    hook.get_contact("c1")
    assert hook.requests_sent == 3 == requests_mock.call_count


def test_check_write_access_fails_fast_on_a_read_only_connection(make_hook, requests_mock: rm.Mocker):
    make_hook().check_write_access()
    with pytest.raises(ContactsPermissionError, match="read-only"):
        make_hook(scopes="contacts.readonly").check_write_access()
    assert requests_mock.call_count == 0
